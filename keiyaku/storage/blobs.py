"""The one way files are stored and read (R43).

Write-once: `blob_put` always creates a new object; nothing overwrites one. `blob_discard`
deletes one that no row refers to (written for a change that was then refused). Files go through
Django's storage API (a local folder by default), encrypted before they leave this module.
"""

from __future__ import annotations

import hashlib
from functools import cache

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage

from keiyaku.storage import crypto
from keiyaku.storage.models import Blob, KeyRing


class BlobIntegrityError(RuntimeError):
    """A stored file does not match the SHA-256 recorded for it."""


@cache
def _storage() -> Storage:
    return FileSystemStorage(location=settings.DATA_DIR / "files")


def keyring_create() -> KeyRing:
    ring = KeyRing()
    ring.wrapped_key = crypto.wrap_key(crypto.new_data_key(), key_id=str(ring.id))
    ring.save()
    return ring


def _data_key(ring: KeyRing) -> bytes:
    return crypto.unwrap_key(bytes(ring.wrapped_key), key_id=str(ring.id))


def blob_put(*, keyring: KeyRing, data: bytes, content_type: str = "application/pdf") -> Blob:
    blob = Blob(
        keyring=keyring,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_type=content_type,
    )
    sealed = crypto.seal_with(_data_key(keyring), data, aad=str(blob.id).encode())
    storage = _storage()
    if storage.exists(blob.object_name):  # uuid4 collision: never overwrite
        raise RuntimeError("blob name already taken")
    saved = storage.save(blob.object_name, ContentFile(sealed))
    if saved != blob.object_name:
        raise RuntimeError("storage renamed a write-once object")
    blob.save()
    return blob


def blob_discard(blob: Blob) -> None:
    """Delete a blob nothing refers to: one written for a change that was then refused (its
    row is deleted first, so a failure leaves at worst a file no row names)."""
    name = blob.object_name
    Blob.objects.filter(pk=blob.pk).delete()
    _storage().delete(name)


def blob_get(blob: Blob) -> bytes:
    with _storage().open(blob.object_name, "rb") as fh:
        sealed = fh.read()
    data = crypto.open_with(_data_key(blob.keyring), sealed, aad=str(blob.id).encode())
    if hashlib.sha256(data).hexdigest() != blob.sha256:
        raise BlobIntegrityError(str(blob.id))
    return data
