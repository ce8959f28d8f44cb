"""Page images are rendered once per stored version and page, in a bounded in-process cache."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from keiyaku.contracts import services
from keiyaku.storage.blobs import blob_put, keyring_create
from keiyaku.web import page_images
from tests.flow import External, draft_contract, enter_code, last_link
from tests.pdfs import make_pdf

PARTY = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
OTHER = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")

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


# --- widths (issue 10, finding 5) ----------------------------------------------------------------


def test_each_allowed_width_is_rendered_at_that_width_and_cached_apart():
    ring = keyring_create()
    blob = blob_put(keyring=ring, data=make_pdf())
    widths = {}
    for width in page_images.PAGE_IMAGE_WIDTHS:
        png = page_images.page_png(blob, 0, width)
        widths[width] = Image.open(io.BytesIO(png)).width
    assert widths == {w: w for w in page_images.PAGE_IMAGE_WIDTHS}
    assert page_images.page_png(blob, 0) == page_images.page_png(blob, 0, 1600)
    with pytest.raises(ValueError):
        page_images.page_png(blob, 0, 1000)


@pytest.mark.parametrize(
    ("raw", "width"),
    [
        (None, 1600),
        ("800", 800),
        ("2400", 2400),
        ("1000", None),
        ("0", None),
        ("", None),
        ("-800", None),
        ("８００", None),
        ("800.0", None),
        ("99999999999999999999", None),
    ],
)
def test_a_request_names_only_an_allowed_width(raw, width):
    assert page_images.requested_width(raw) == width


def test_the_cache_stays_within_its_byte_budget(monkeypatch):
    ring = keyring_create()
    blob = blob_put(keyring=ring, data=make_pdf(pages=3))
    first = page_images.page_png(blob, 0, 800)
    monkeypatch.setattr(page_images, "MAX_BYTES", len(first) * 2)
    for index in range(3):
        page_images.page_png(blob, index, 800)
    assert page_images._bytes == sum(len(png) for png in page_images._images.values())
    assert page_images._bytes <= len(first) * 2


def _png_width(response) -> int:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "image/png"
    return Image.open(io.BytesIO(response.content)).width


def test_the_staff_page_image_takes_an_allowed_width_and_keeps_its_access_check(personas):
    contract = draft_contract(personas.sender)
    document = contract.documents.get()
    url = reverse("document-page", args=[contract.pk, document.pk, 1])
    staff = Client()
    staff.force_login(personas.sender)
    assert _png_width(staff.get(url)) == 1600
    assert _png_width(staff.get(url, {"w": "800"})) == 800
    for bad in ("1000", "abc", "8000"):
        assert staff.get(url, {"w": bad}).status_code == 404
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.get(url, {"w": "800"}).status_code == 404
    # The placement screen offers the browser every allowed width.
    state = staff.get(reverse("box-collection", args=[contract.pk])).json()
    assert state["documents"][0]["pages"][0]["srcset"] == page_images.page_srcset(url)


@pytest.mark.django_db(transaction=True)  # the signing e-mail goes out after commit
def test_a_party_sees_its_own_pages_at_an_allowed_width_and_nothing_else(personas):
    mine = draft_contract(personas.sender, externals=[PARTY])
    theirs = draft_contract(personas.sender, externals=[OTHER], title="別の契約")
    for contract in (mine, theirs):
        services.contract_send(contract=contract, actor=personas.sender)
    link = last_link(PARTY.email)
    token = link.strip("/").split("/")[-1]
    own = mine.documents.get()
    url = reverse("sign-page", args=[token, own.pk, 1])
    party = Client()
    # Before the access code: no image.
    assert party.get(url, {"w": "800"}).status_code == 302
    assert enter_code(party, link, PARTY.code).status_code == 302
    assert _png_width(party.get(url, {"w": "2400"})) == 2400
    assert party.get(url, {"w": "1234"}).status_code == 404
    assert party.get(reverse("sign-page", args=[token, own.pk, 2]), {"w": "800"}).status_code == 404
    # Another contract's document through this party's link: 404.
    other = theirs.documents.get()
    assert (
        party.get(reverse("sign-page", args=[token, other.pk, 1]), {"w": "800"}).status_code == 404
    )
    # The documents page offers the browser every allowed width.
    page = party.get(link + "documents/").content.decode()
    assert f'srcset="{page_images.page_srcset(url)}"' in page
