"""R43: files encrypted at rest with a key per contract; write-once; integrity checked."""

from __future__ import annotations

import pytest

from keiyaku.storage import blobs
from keiyaku.storage.blobs import BlobIntegrityError, blob_get, blob_put, keyring_create

pytestmark = pytest.mark.django_db


def stored_bytes(blob) -> bytes:
    with blobs._storage().open(blob.object_name, "rb") as fh:
        return fh.read()


def test_round_trip_and_ciphertext_on_disk():
    ring = keyring_create()
    data = b"%PDF-1.7 \xe5\xa5\x91\xe7\xb4\x84" * 1000
    blob = blob_put(keyring=ring, data=data)
    assert blob_get(blob) == data
    raw = stored_bytes(blob)
    assert data[:40] not in raw and len(raw) == len(data) + 12 + 16


def test_each_contract_has_its_own_key():
    a, b = keyring_create(), keyring_create()
    blob = blob_put(keyring=a, data=b"secret contract")
    assert bytes(a.wrapped_key) != bytes(b.wrapped_key)
    blob.keyring = b
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM refuses the wrong key
        blob_get(blob)


def test_a_new_version_is_a_new_object():
    ring = keyring_create()
    first = blob_put(keyring=ring, data=b"v1")
    second = blob_put(keyring=ring, data=b"v2")
    assert first.object_name != second.object_name
    assert blob_get(first) == b"v1" and blob_get(second) == b"v2"


def test_tampered_file_is_detected():
    ring = keyring_create()
    blob = blob_put(keyring=ring, data=b"original")
    raw = bytearray(stored_bytes(blob))
    raw[-1] ^= 1
    path = blobs._storage().path(blob.object_name)
    with open(path, "wb") as fh:
        fh.write(bytes(raw))
    with pytest.raises(Exception):  # noqa: B017 - authentication tag mismatch
        blob_get(blob)
    blob.sha256 = "0" * 64
    with pytest.raises((BlobIntegrityError, Exception)):  # noqa: B017
        blob_get(blob)
