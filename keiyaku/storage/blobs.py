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

Derived objects (`derived_put`, `derived_get`; issue 12): small files computed from a blob, such
as a page image, stored so that every process reuses them. Each is sealed with the data key of
the blob it was computed from, under a name made of that key ring, the blob's SHA-256 and a label
(`derived_name`): the same inputs always give the same name, so the write-once put is the
insert-if-absent of a shared cache, and different inputs can never share a name. They are not
in backups (they can be computed again) and become unreadable with their key ring.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages

from keiyaku.storage import crypto
from keiyaku.storage.backends import ObjectExists
from keiyaku.storage.models import Blob, KeyRing

__all__ = [
    "BlobIntegrityError",
    "ObjectExists",
    "blob_chunks",
    "blob_get",
    "blob_put",
    "derived_get",
    "derived_name",
    "derived_put",
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


#: Plaintext up to this size stays in memory while `blob_chunks` checks it; a larger file goes
#: to a temporary file (deleted when the reading ends).
SPOOL_BYTES = 1024 * 1024


def blob_chunks(blob: Blob, *, chunk_bytes: int = crypto.CHUNK_BYTES) -> Iterator[bytes]:
    """The plaintext of ``blob`` in pieces of at most ``chunk_bytes``, for files handed on
    whole without being held whole (a streamed ZIP, an export to disk; issue 15).

    Nothing is yielded before the whole object has been opened and checked (the GCM tag and the
    recorded SHA-256), as `blob_get`: the plaintext is decrypted chunk by chunk into a
    temporary file (in memory up to SPOOL_BYTES, on disk beyond; removed when the generator
    ends or is closed), then read from it. Memory stays about one chunk whatever the size.
    Raises what `blob_get` raises, before the first piece.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as plain:
        with object_storage().open(blob.object_name, "rb") as fh:
            sha256 = crypto.open_stream_into(
                _data_key(blob.keyring),
                fh,
                plain,
                plaintext_bytes=blob.size,
                aad=str(blob.id).encode(),
            )
        if sha256 != blob.sha256:
            raise BlobIntegrityError(str(blob.id))
        plain.seek(0)
        while piece := plain.read(chunk_bytes):
            yield piece


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


def derived_name(blob: Blob, label: str) -> str:
    """The storage name of what ``label`` names computed from ``blob``:
    ``derived/<key ring id>/<blob SHA-256>/<label>``. ``label`` (ASCII letters, digits, ``.``,
    ``-``, ``_``) must say everything the object depends on besides the blob's bytes (page,
    width, encoder and its settings), so that one name never stands for two contents."""
    if not label or not all(c.isascii() and (c.isalnum() or c in ".-_") for c in label):
        raise ValueError("a derived object's label is ASCII letters, digits, '.', '-', '_'")
    return f"derived/{blob.keyring_id}/{blob.sha256}/{label}"


def derived_put(blob: Blob, label: str, data: bytes) -> bytes:
    """Store ``data`` (bytes computed from ``blob``) as ``derived_name(blob, label)``, sealed
    with ``blob``'s data key (AAD: the name, so an object copied to another name does not
    open). Returns the stored bytes: ``data``, or when another process stored that name first,
    what it stored (write-once: nothing is overwritten; issue 12)."""
    name = derived_name(blob, label)
    sealed = crypto.seal_with(_data_key(blob.keyring), data, aad=name.encode())
    try:
        saved = object_storage().save(name, ContentFile(sealed))
    except ObjectExists:
        stored = derived_get(blob, label)
        if stored is None:  # stored, then removed at once: not a case keiyaku produces
            raise
        return stored
    if saved != name:
        raise RuntimeError("storage renamed a write-once object")
    return data


def derived_get(blob: Blob, label: str) -> bytes | None:
    """The plaintext of ``derived_name(blob, label)``, or None when it is not stored.
    Raises crypto.SealBroken when the object was altered, moved from another name or sealed
    with another key."""
    name = derived_name(blob, label)
    try:
        with object_storage().open(name, "rb") as fh:
            sealed = fh.read()
    except FileNotFoundError:
        return None
    return crypto.open_with(_data_key(blob.keyring), sealed, aad=name.encode())
