"""R43: files encrypted at rest with a key per contract; write-once; integrity checked.

Every test runs on a local folder and on S3 (tests/storage/conftest.py).
"""

from __future__ import annotations

import io
import threading

import pytest

from keiyaku.storage import crypto
from keiyaku.storage.blobs import (
    BlobIntegrityError,
    ObjectExists,
    blob_chunks,
    blob_get,
    blob_put,
    keyring_create,
    object_open,
    object_put,
    object_storage,
)

pytestmark = pytest.mark.django_db


def test_round_trip_and_ciphertext_at_rest(store):
    ring = keyring_create()
    data = b"%PDF-1.7 \xe5\xa5\x91\xe7\xb4\x84" * 1000
    blob = blob_put(keyring=ring, data=data)
    assert blob_get(blob) == data
    raw = store.raw(blob.object_name)
    assert b"%PDF-" not in raw and data[:40] not in raw
    assert len(raw) == len(data) + 12 + 16


def test_each_contract_has_its_own_key(store):
    a, b = keyring_create(), keyring_create()
    blob = blob_put(keyring=a, data=b"secret contract")
    assert bytes(a.wrapped_key) != bytes(b.wrapped_key)
    blob.keyring = b
    with pytest.raises(crypto.SealBroken):
        blob_get(blob)


def test_a_new_version_is_a_new_object(store):
    ring = keyring_create()
    first = blob_put(keyring=ring, data=b"v1")
    second = blob_put(keyring=ring, data=b"v2")
    assert first.object_name != second.object_name
    assert blob_get(first) == b"v1" and blob_get(second) == b"v2"


def test_tampered_object_is_detected(store):
    ring = keyring_create()
    blob = blob_put(keyring=ring, data=b"original")
    raw = bytearray(store.raw(blob.object_name))
    raw[-1] ^= 1
    store.tamper(blob.object_name, bytes(raw))
    with pytest.raises(crypto.SealBroken):
        blob_get(blob)


def test_a_changed_sha256_is_detected(store):
    blob = blob_put(keyring=keyring_create(), data=b"original")
    blob.sha256 = "0" * 64
    with pytest.raises(BlobIntegrityError):
        blob_get(blob)


def test_chunks_give_the_file_in_pieces_after_checking_it(store):
    data = bytes(range(256)) * 9000  # over SPOOL_BYTES: checked through a temporary file
    blob = blob_put(keyring=keyring_create(), data=data)
    pieces = list(blob_chunks(blob, chunk_bytes=100_000))
    assert b"".join(pieces) == data
    assert max(len(p) for p in pieces) == 100_000


def test_chunks_of_a_tampered_object_give_nothing(store):
    data = b"%PDF-1.7 original" * 100_000
    blob = blob_put(keyring=keyring_create(), data=data)
    raw = bytearray(store.raw(blob.object_name))
    raw[-1] ^= 1  # the tag: every byte before it decrypts, none may come out
    store.tamper(blob.object_name, bytes(raw))
    pieces = blob_chunks(blob)
    with pytest.raises(crypto.SealBroken):
        next(pieces)
    blob = blob_put(keyring=keyring_create(), data=b"original")
    blob.sha256 = "0" * 64
    with pytest.raises(BlobIntegrityError):
        next(blob_chunks(blob))


def test_a_put_to_an_existing_key_is_refused(store):
    object_put("blobs/xx/taken", io.BytesIO(b"first"))
    with pytest.raises(ObjectExists):
        object_put("blobs/xx/taken", io.BytesIO(b"second"))
    with pytest.raises(ObjectExists):
        object_storage().save("blobs/xx/taken", io.BytesIO(b"third"))
    assert store.raw("blobs/xx/taken") == b"first"
    assert object_storage().listdir("blobs/xx") == ([], ["taken"])


def test_parallel_puts_of_one_key_exactly_one_wins(store):
    contenders = 8
    barrier = threading.Barrier(contenders)
    results: list[str] = [""] * contenders

    def put(i: int) -> None:
        barrier.wait()
        try:
            object_put("blobs/yy/raced", io.BytesIO(bytes([i]) * 200_000))
            results[i] = "won"
        except ObjectExists:
            results[i] = "refused"
        except Exception as exc:  # noqa: BLE001 - shown in the assertion below
            results[i] = repr(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused"] * (contenders - 1) + ["won"], results
    winner = results.index("won")
    assert store.raw("blobs/yy/raced") == bytes([winner]) * 200_000


def test_objects_are_never_opened_to_write(store):
    object_put("blobs/zz/kept", io.BytesIO(b"kept"))
    for mode in ("wb", "ab", "r+b", "xb"):
        with pytest.raises(ValueError):
            object_storage().open("blobs/zz/kept", mode)
    assert store.raw("blobs/zz/kept") == b"kept"


def test_raw_objects_stream_out_and_back(store):
    """What backups need: a stored object copied out in chunks and put back under a new name."""
    blob = blob_put(keyring=keyring_create(), data=b"contract" * 100_000)
    with object_open(blob.object_name) as fh:
        chunks = list(fh.chunks(chunk_size=64 * 1024))
    assert len(chunks) > 1
    copy = b"".join(chunks)
    assert copy == store.raw(blob.object_name)
    object_put("restored/" + blob.object_name, io.BytesIO(copy))
    assert store.raw("restored/" + blob.object_name) == copy


def test_a_missing_object_is_file_not_found(store):
    with pytest.raises(FileNotFoundError):
        object_open("blobs/00/absent").read()
    assert not object_storage().exists("blobs/00/absent")


def test_head_then_put_also_refuses_an_existing_key(s3_storage, settings):
    """write_check=head, for servers without conditional puts: asks first, then puts."""
    default = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**default, "OPTIONS": {**default["OPTIONS"], "write_check": "head"}},
    }
    object_put("blobs/hh/asked", io.BytesIO(b"first"))
    with pytest.raises(ObjectExists):
        object_put("blobs/hh/asked", io.BytesIO(b"second"))
    assert s3_storage.raw("blobs/hh/asked") == b"first"
