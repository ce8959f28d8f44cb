"""Derived objects (issue 12): computed from a blob, sealed with its contract's key under a name
that says what they were computed from, write-once. Every test runs on a local folder and on S3
(the ``store`` fixture)."""

from __future__ import annotations

import pytest

from keiyaku.storage import crypto
from keiyaku.storage.blobs import (
    blob_put,
    derived_get,
    derived_name,
    derived_put,
    keyring_create,
)

pytestmark = pytest.mark.django_db


def test_a_derived_object_is_sealed_and_read_back(store):
    blob = blob_put(keyring=keyring_create(), data=b"%PDF-1.7 contract")
    assert derived_get(blob, "page-1-w800-q90.jpg") is None
    image = b"\xff\xd8\xff page image " * 100
    assert derived_put(blob, "page-1-w800-q90.jpg", image) == image
    assert derived_get(blob, "page-1-w800-q90.jpg") == image
    name = derived_name(blob, "page-1-w800-q90.jpg")
    assert name == f"derived/{blob.keyring_id}/{blob.sha256}/page-1-w800-q90.jpg"
    raw = store.raw(name)
    assert image[:40] not in raw and len(raw) == len(image) + 12 + 16


def test_the_first_stored_wins_and_nothing_is_overwritten(store):
    blob = blob_put(keyring=keyring_create(), data=b"%PDF-1.7 contract")
    assert derived_put(blob, "page-1-w800-q90.jpg", b"first") == b"first"
    assert derived_put(blob, "page-1-w800-q90.jpg", b"second") == b"first"
    assert derived_get(blob, "page-1-w800-q90.jpg") == b"first"


def test_another_contracts_key_or_another_name_does_not_open_it(store):
    data = b"%PDF-1.7 the same file in two contracts"
    mine, theirs = (blob_put(keyring=keyring_create(), data=data) for _ in range(2))
    derived_put(mine, "page-1-w800-q90.jpg", b"image")
    assert derived_name(mine, "x") != derived_name(theirs, "x")
    assert derived_get(theirs, "page-1-w800-q90.jpg") is None
    # The object moved to page 2's name: its name is sealed in, so it does not open there.
    store.tamper(
        derived_name(mine, "page-2-w800-q90.jpg"),
        store.raw(derived_name(mine, "page-1-w800-q90.jpg")),
    )
    with pytest.raises(crypto.SealBroken):
        derived_get(mine, "page-2-w800-q90.jpg")


@pytest.mark.parametrize("label", ["", "../blobs/ab/x", "page 1", "ページ", "a/b"])
def test_a_label_cannot_leave_its_folder(label):
    blob = blob_put(keyring=keyring_create(), data=b"%PDF-1.7")
    with pytest.raises(ValueError):
        derived_name(blob, label)
