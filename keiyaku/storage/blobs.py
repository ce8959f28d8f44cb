"""The one way files are stored and read (R43).

Write-once: `blob_put` always creates a new object under a fresh random key, and the storage
refuses a put to a key that exists (keiyaku.storage.backends.ObjectExists), so nothing ever
overwrites an object; `blob_discard` deletes one that no row refers to (written for a change
that was then refused). Files go through Django's configured storage, ``STORAGES["default"]``
(KEIYAKU_STORAGE_URL: a local folder by default, or S3-compatible object storage), encrypted with
their contract's own data key before they leave this module.

Memory (issue 12): a blob is one AES-256-GCM message over the whole file (the format of R43), but
it is sealed and opened in chunks (`crypto.SealingReader`, `crypto.open_stream`): `blob_put`
holds no sealed copy (storage reads the sealed form as it is made, and a file on disk is read
from disk), and `blob_get` holds the plaintext once, never the sealed object beside it. Raw
objects (`object_open`, `object_put`, used by backups) stream and are never held whole.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

from django.core.files.base import File
from django.core.files.storage import Storage, storages

from keiyaku.storage import crypto
from keiyaku.storage.backends import ObjectExists
from keiyaku.storage.models import Blob, KeyRing

__all__ = [
    "BlobIntegrityError",
    "ObjectExists",
    "blob_get",
    "blob_put",
    "keyring_create",
    "object_open",
    "object_put",
    "object_storage",
]


class BlobIntegrityError(RuntimeError):
    """A stored file does not match the SHA-256 recorded for it."""


def object_storage() -> Storage:
    """The configured object storage (``STORAGES["default"]``, the same as Django's
    ``default_storage``); write-once."""
    return storages["default"]


def keyring_create() -> KeyRing:
    ring = KeyRing()
    ring.wrapped_key = crypto.wrap_key(crypto.new_data_key(), key_id=str(ring.id))
    ring.save()
    return ring


def _data_key(ring: KeyRing) -> bytes:
    return crypto.unwrap_key(bytes(ring.wrapped_key), key_id=str(ring.id))


def blob_put(
    *, keyring: KeyRing, data: bytes | Path, content_type: str = "application/pdf"
) -> Blob:
    """Store ``data`` sealed with ``keyring``'s data key as a new object; return its Blob.

    ``data``: the bytes, or the path of a file that does not change meanwhile (an upload Django
    wrote to disk), which is read in chunks, never whole. The sealed form is made as storage
    reads it: no copy of the file is held (issue 12). The object's name is ``Blob.object_name``
    (a fresh UUID). Raises ObjectExists if that key is taken (a UUID collision, or an object
    left by a put whose row was rolled back): nothing is overwritten, and the caller's
    transaction fails instead (R43, issue 11).
    """
    if isinstance(data, bytes):
        sha256, size = hashlib.sha256(data).hexdigest(), len(data)
    else:
        with data.open("rb") as fh:
            sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
        size = data.stat().st_size
    blob = Blob(keyring=keyring, sha256=sha256, size=size, content_type=content_type)
    with crypto.SealingReader(_data_key(keyring), data, aad=str(blob.id).encode()) as sealed:
        stream = File(sealed, name=blob.object_name)  # type: ignore[arg-type]
        saved = object_storage().save(blob.object_name, stream)
    if saved != blob.object_name:
        raise RuntimeError("storage renamed a write-once object")
    blob.save()
    return blob


def blob_discard(blob: Blob) -> None:
    """Delete a blob nothing refers to: one written for a change that was then refused (its
    row is deleted first, so a failure leaves at worst a file no row names)."""
    name = blob.object_name
    Blob.objects.filter(pk=blob.pk).delete()
    object_storage().delete(name)


def blob_get(blob: Blob) -> bytes:
    """The plaintext of ``blob`` (bytes), read and decrypted in chunks: the file is held once
    (issue 12). Raises crypto.SealBroken if the object was altered, truncated or sealed for
    another blob or key, BlobIntegrityError if it opens but its SHA-256 is not the recorded
    one, FileNotFoundError if the object is missing."""
    with object_storage().open(blob.object_name, "rb") as fh:
        data, sha256 = crypto.open_stream(
            _data_key(blob.keyring), fh, plaintext_bytes=blob.size, aad=str(blob.id).encode()
        )
    if sha256 != blob.sha256:
        raise BlobIntegrityError(str(blob.id))
    return data


def object_open(name: str) -> File:
    """A stored object as it is at rest (sealed bytes for a blob), opened to read; use it as a
    context manager and read it in chunks (``.chunks()``) to copy it without holding it whole.
    ``name`` is a storage name such as ``Blob.object_name``. FileNotFoundError if missing."""
    return object_storage().open(name, "rb")


def object_put(name: str, content: IO[bytes]) -> None:
    """Store ``content`` (a binary file object, read in chunks) under ``name`` as it is, e.g. a
    sealed blob copied back from a backup. Raises ObjectExists if ``name`` exists: an object is
    never replaced, not even by its own copy."""
    saved = object_storage().save(name, File(content, name=name))
    if saved != name:
        raise RuntimeError("storage renamed a write-once object")
