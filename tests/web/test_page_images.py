"""Page images are rendered once per stored version and page, in a bounded in-process cache."""

from __future__ import annotations

import pytest

from keiyaku.storage.blobs import blob_put, keyring_create
from keiyaku.web import page_images
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db


def test_a_page_is_decrypted_and_rendered_once(monkeypatch):
    ring = keyring_create()
    first = blob_put(keyring=ring, data=make_pdf(pages=2))
    second = blob_put(keyring=ring, data=make_pdf(pages=1, text="別の書類"))
    reads = []
    real = page_images.blob_get
    monkeypatch.setattr(page_images, "blob_get", lambda blob: reads.append(blob.pk) or real(blob))

    image = page_images.page_png(first, 0)
    assert image.startswith(b"\x89PNG")
    assert page_images.page_png(first, 0) == image and reads == [first.pk]
    assert page_images.page_png(first, 1) != image  # another page
    assert page_images.page_png(second, 0) != image  # another version
    assert reads == [first.pk, first.pk, second.pk]


def test_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(page_images, "MAX_IMAGES", 2)
    ring = keyring_create()
    blob = blob_put(keyring=ring, data=make_pdf(pages=3))
    for index in range(3):
        page_images.page_png(blob, index)
    assert len(page_images._images) <= 2
