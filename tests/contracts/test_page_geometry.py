"""Boxes on pages whose visible page is not the plain media box (crop box larger than or
inside the media box, /Rotate, inherited boxes, /UserUnit): placed 4 pt from each corner of the
page as staff see it, sent over HTTP, filled and signed by a party, and found inside their boxes
in the signed PDF, whose signature validates."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image, ImageChops

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus
from keiyaku.contracts.services import drafting
from keiyaku.contracts.services.drafting import Upload
from keiyaku.signing import engine
from keiyaku.signing.render import render_page_png
from keiyaku.signing.verification import verify_pdf
from keiyaku.storage.blobs import blob_get
from tests.contracts.test_boxes import place, staff_client
from tests.flow import External, agree, last_link
from tests.pdfs import make_pdf, pdftotext, with_page_geometry
from tests.signing.test_geometry import CASES
from tests.web.sending import send_confirmed

pytestmark = pytest.mark.django_db(transaction=True)

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
VALUE = "髙橋建設㈱"


def _draft(personas, pdf: bytes):
    contract = services.contract_create(
        actor=personas.sender,
        title="令和8年度 道路補修工事 請負契約",
        management_number="R8-土木-0042",
        counterparty_company=A.company,
        amount=12_345_000,
        uploads=[Upload(filename="契約書.pdf", data=pdf)],
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=A.company,
        name=A.name,
        email=A.email,
        access_code=A.code,
    )
    return contract


def _image(pdf: bytes, width_px: int) -> Image.Image:
    return Image.open(io.BytesIO(render_page_png(pdf, 0, width_px=width_px))).convert("L")


@pytest.mark.parametrize("case", CASES)
def test_boxes_at_the_corners_are_sent_filled_and_signed(personas, case: str) -> None:
    contract = _draft(personas, with_page_geometry(make_pdf(), **CASES[case][0]))
    document = contract.documents.get()
    party = contract.parties.get()
    width, height = document.page_sizes[0]
    w, h = 110.0, 20.0
    client = staff_client(personas.sender)
    boxes = [
        place(
            client,
            contract,
            document=document.pk,
            page=1,
            x=x,
            y=y,
            width=w,
            height=h,
            kind="text",
            label=f"欄{n}",
            party=party.pk,
        )
        for n, (x, y) in enumerate(
            [(4, 4), (width - 4 - w, 4), (4, height - 4 - h), (width - 4 - w, height - 4 - h)]
        )
    ]

    response = send_confirmed(client, contract)
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.IN_PROGRESS
    prepared = blob_get(document.current_version().blob)

    agree(Client(), last_link(A.email), A.code, {f"box_{b['id']}": VALUE for b in boxes})
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    final = blob_get(document.current_version().blob)
    report = verify_pdf(final)
    assert report.ok, report.as_dict()
    assert [s.kind for s in report.signatures].count(engine.SIGNATURE) == 1
    assert pdftotext(final).count(VALUE) == 4

    width_px = 1000
    scale = width_px / width
    changed = ImageChops.difference(_image(prepared, width_px), _image(final, width_px))
    changed = changed.point(lambda p: 255 if p > 64 else 0)
    for box in boxes:
        region = tuple(
            round(v * scale)
            for v in (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])
        )
        assert changed.crop(region).getbbox() is not None, box  # the value is in its box …
        changed.paste(0, region)
    assert changed.getbbox() is None, changed.getbbox()  # … and nowhere else


def test_an_engine_error_at_send_is_a_refusal_not_a_server_error(personas, monkeypatch) -> None:
    contract = _draft(personas, make_pdf())

    def broken(*args, **kwargs):
        raise ValueError("box keiyaku-box-1: rect lies outside the page")

    # What the budgeted child raises is raised again in the web process.
    monkeypatch.setattr(drafting, "prepare_for_sending", broken)
    response = send_confirmed(staff_client(personas.sender), contract, follow=True)
    assert response.status_code == 200
    assert "書類を送信用に準備できませんでした。" in response.content.decode()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
