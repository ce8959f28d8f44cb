"""Write-once storage back ends: a local folder and S3-compatible object storage (R43, issue 11).

Both keep Django's Storage interface (``save``, ``open``, ``exists``, ``size``, ``listdir``), so
the rest of keiyaku and Django's own tools (``default_storage``) use them alike, with one change
of meaning: **``save`` never overwrites and never renames**. A put to a key that already exists
raises ObjectExists; nothing replaces an object, and ``open`` refuses to write.

How each back end refuses the second put:

- local folder: the object is written to a temporary file beside its final name, flushed to disk,
  and given its name with ``link(2)``, which fails when the name exists (atomic, like O_EXCL, and
  a reader never sees half an object; a crash leaves only a temporary file).
- S3, ``write_check=conditional`` (default): one PutObject with ``If-None-Match: *``; the server
  answers 412 PreconditionFailed when the key exists (409 ConditionalRequestConflict when another
  put of the same key is in flight). AWS S3 decides this atomically: of two parallel puts exactly
  one wins. A server that ignores the header silently overwrites; ``keiyaku check --deploy`` finds
  out (keiyaku.storage.checks).
- S3, ``write_check=head``: HEAD, then PutObject. Two processes putting the same key at the same
  moment can both pass the HEAD and the later one overwrites. keiyaku's keys are fresh random
  UUIDs, so this needs a UUID collision plus a race; bucket versioning keeps the overwritten
  version (Object Lock keeps it for its retention period) so nothing is lost for good.

Objects are put in one request (PutObject takes up to 5 GB; keiyaku's largest contract is
KEIYAKU_MAX_CONTRACT_MB), streamed from the file object given to ``save``. Reading an object is
one GET whose body streams as the caller reads it.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from botocore.exceptions import ClientError
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class ObjectExists(FileExistsError):
    """A put to a key that already exists in write-once storage (nothing was written)."""


def _refuse_write_mode(mode: str) -> None:
    if any(flag in mode for flag in "wax+"):
        raise ValueError(
            "write-once storage: objects are written with save(), never opened to write"
        )


class WriteOnceFileSystemStorage(FileSystemStorage):
    """Django's FileSystemStorage that never overwrites, renames or opens an object to write."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # never an alternative name: the caller chose the key

    def _open(self, name: str, mode: str = "rb") -> File:
        _refuse_write_mode(mode)
        return File(open(self.path(name), mode), name=name)  # noqa: SIM115 - the caller closes

    def _save(self, name: str, content: File) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        if os.path.lexists(full_path):
            raise ObjectExists(name)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                if hasattr(content, "seek"):
                    content.seek(0)
                for chunk in content.chunks():
                    handle.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, self.file_permissions_mode or 0o600)
            try:
                os.link(temporary, full_path)  # fails if the name exists: never replaces
            except FileExistsError as exc:
                raise ObjectExists(name) from exc
        finally:
            os.unlink(temporary)
        return name.replace("\\", "/")


class WriteOnceS3Storage(S3Storage):
    """django-storages' S3Storage that never overwrites, renames or opens an object to write.

    ``write_check`` (from KEIYAKU_STORAGE_URL): ``conditional`` or ``head``, see the module text.
    """

    def get_default_settings(self) -> dict[str, Any]:
        return {**super().get_default_settings(), "write_check": "conditional"}

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return clean_name(name)

    def _open(self, name: str, mode: str = "rb") -> File:
        """The object as a stream: one GET whose body is read as the caller reads (S3File, the
        parent's, would first copy the whole object into a temporary file with two more
        requests). FileNotFoundError when there is no such key."""
        _refuse_write_mode(mode)
        key = self.object_key(name)
        try:
            answer = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise FileNotFoundError(f"no stored object {name}") from exc
            raise
        stream = File(answer["Body"], name=name)
        stream.size = answer["ContentLength"]
        return stream

    def _save(self, name: str, content: File) -> str:
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key, content)
        if hasattr(content, "seek"):
            content.seek(0)
        client = self.connection.meta.client
        if self.write_check == "conditional":
            params["IfNoneMatch"] = "*"
        elif self.exists(cleaned):
            raise ObjectExists(cleaned)
        try:
            client.put_object(Bucket=self.bucket_name, Key=key, Body=content, **params)
        except ClientError as exc:
            error = exc.response.get("Error", {}).get("Code", "")
            if error in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise ObjectExists(cleaned) from exc
            raise
        return cleaned

    def object_key(self, name: str) -> str:
        """The bucket key of ``name`` (the key prefix of KEIYAKU_STORAGE_URL added)."""
        return str(self._normalize_name(clean_name(name)))
