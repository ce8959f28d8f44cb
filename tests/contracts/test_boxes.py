"""Issue 4: boxes staff place, parties fill, values in the signed PDF (R8)."""

from __future__ import annotations

import io
import json
import subprocess

import pytest
from django.test import Client
from PIL import Image

from keiyaku.contracts import services
from keiyaku.contracts.models import Box, ContractStatus, VersionKind
from keiyaku.signing.render import page_jpeg, render_page_bitmap, render_page_png
from keiyaku.signing.verification import verify_pdf
from keiyaku.storage.blobs import blob_get
from keiyaku.web.page_images import DEFAULT_WIDTH
from tests.flow import External, agree, draft_contract, enter_code, last_link
from tests.outside import openssl_verify_timestamps, pdfsig, qpdf_check

pytestmark = pytest.mark.django_db(transaction=True)

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("㈱佐藤工業", "佐藤 次郎", "sato@example.jp", "2222")
ADDRESS = ("〒060-8611 北海道札幌市中央区北1条西2丁目1番地 札幌市役所本庁舎 ①号館 " * 5)[:200]
LABELS = ["住所", "代表者名", "契約日", "同意確認", "備考", "担当者"]


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def place(client, contract, **data):
    response = client.post(
        f"/contracts/{contract.pk}/boxes.json", json.dumps(data), content_type="application/json"
    )
    assert response.status_code == 201, response.content.decode()
    return response.json()


def three_party_contract(personas):
    contract = draft_contract(
        personas.sender, externals=[A, B], staff_signers=[personas.mayor], pages=2
    )
    doc = contract.documents.get()
    parties = list(contract.parties.order_by("position"))
    client = staff_client(personas.sender)
    boxes = {
        "a_name": place(
            client,
            contract,
            document=doc.pk,
            page=1,
            x=60,
            y=600,
            width=200,
            height=22,
            kind="text",
            label="代表者名",
            party=parties[0].pk,
        ),
        "a_date": place(
            client,
            contract,
            document=doc.pk,
            page=1,
            x=300,
            y=600,
            width=150,
            height=22,
            kind="date",
            label="契約日",
            party=parties[0].pk,
        ),
        "b_address": place(
            client,
            contract,
            document=doc.pk,
            page=2,
            x=50,
            y=430,
            width=480,
            height=120,
            kind="multiline",
            label="住所",
            party=parties[1].pk,
            max_length=200,
        ),
        "b_check": place(
            client,
            contract,
            document=doc.pk,
            page=2,
            x=50,
            y=570,
            width=20,
            height=20,
            kind="checkbox",
            label="同意確認",
            party=parties[1].pk,
        ),
        "m_note": place(
            client,
            contract,
            document=doc.pk,
            page=1,
            x=60,
            y=650,
            width=300,
            height=22,
            kind="text",
            label="備考",
            party=parties[2].pk,
            required=False,
        ),
        "m_staff": place(
            client,
            contract,
            document=doc.pk,
            page=1,
            x=60,
            y=690,
            width=300,
            height=22,
            kind="text",
            label="担当者",
            party=parties[2].pk,
        ),
    }
    return contract, parties, boxes


def render_region(pdf: bytes, page: int, box: dict, sizes) -> list[int]:
    """The box's region of the page image parties and staff see (keiyaku's own renderer)."""
    width, _height = sizes[page - 1]
    scale = 2.0
    png = render_page_png(pdf, page - 1, width_px=int(width * scale))
    image = Image.open(io.BytesIO(png)).convert("L")
    left, top = int(box["x"] * scale), int(box["y"] * scale)
    right, bottom = int((box["x"] + box["width"]) * scale), int((box["y"] + box["height"]) * scale)
    return list(image.crop((left, top, right, bottom)).tobytes())


def test_three_parties_fill_boxes_and_the_signed_pdf_holds_them(personas):
    contract, parties, boxes = three_party_contract(personas)
    services.contract_send(contract=contract, actor=personas.sender)
    prepared = blob_get(contract.documents.get().current_version().blob)

    agree(
        Client(),
        last_link(A.email),
        A.code,
        {
            f"box_{boxes['a_name']['id']}": "髙橋 一郎（㈱髙橋建設 代表取締役）",
            f"box_{boxes['a_date']['id']}": "2026-04-01",
        },
    )
    later = Client()
    link = last_link(B.email)
    enter_code(later, link, B.code)
    page = later.get(link + "documents/").content.decode()
    assert f'name="box_{boxes["a_name"]["id"]}"' not in page  # not party 2's to change
    # Party 1's value is visible to party 2: drawn in the page image it is shown.
    document = contract.documents.get()
    image = later.get(f"{link}documents/{document.pk}/pages/1.jpg").content
    shown_pdf = blob_get(document.current_version().blob)
    assert image == page_jpeg(render_page_bitmap(shown_pdf, 0, width_px=DEFAULT_WIDTH))
    sizes = document.page_sizes
    inked = sum(1 for p in render_region(shown_pdf, 1, boxes["a_name"], sizes) if p < 128)
    blank = sum(1 for p in render_region(prepared, 1, boxes["a_name"], sizes) if p < 128)
    assert inked > blank + 20
    agree(
        later,
        link,
        None,
        {
            f"box_{boxes['b_address']['id']}": ADDRESS,
            f"box_{boxes['b_check']['id']}": "1",
        },
    )
    agree(
        staff_client(personas.mayor),
        last_link(personas.mayor.email),
        None,
        {
            f"box_{boxes['m_staff']['id']}": "契約課 ①係",
        },
    )
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    version = contract.documents.get().current_version()
    assert version.kind == VersionKind.COMPLETED
    final = blob_get(version.blob)

    report = verify_pdf(final)
    assert report.ok and report.ltv_ok, report.as_dict()
    for item in report.signatures:
        if item.kind == "signature":
            assert item.modification_level in ("NONE", "LTA_UPDATES", "FORM_FILLING"), item
    assert len([s for s in pdfsig(final) if not s["is_document_timestamp"]]) == 3
    openssl_verify_timestamps(final, *_roots())
    qpdf_check(final)

    text = subprocess.run(
        ["pdftotext", "-", "-"], input=final, capture_output=True, check=True
    ).stdout.decode()
    for value in ["髙橋 一郎（㈱髙橋建設 代表取締役）", "令和8年4月1日", "契約課 ①係"]:
        assert value in text, value
    # The 200-character address, read from its box's region of page 2 only.
    assert "".join(ADDRESS.split()) == "".join(region_text(final, 2, boxes["b_address"]).split())

    sizes = contract.documents.get().page_sizes
    for key, page_number in [("a_name", 1), ("b_address", 2), ("b_check", 2), ("m_staff", 1)]:
        before = render_region(prepared, page_number, boxes[key], sizes)
        after = render_region(final, page_number, boxes[key], sizes)
        dark_before = sum(1 for p in before if p < 128)
        dark_after = sum(1 for p in after if p < 128)
        assert dark_after > dark_before + 20, key  # the value is drawn inside its box

    # Stored as data and shown on the detail page.
    detail = staff_client(personas.sender).get(f"/contracts/{contract.pk}/").content.decode()
    assert "2026-04-01" in detail and "契約課 ①係" in detail
    assert Box.objects.get(pk=boxes["m_note"]["id"]).value == ""


def region_text(pdf: bytes, page: int, box: dict) -> str:
    command = ["pdftotext", "-f", str(page), "-l", str(page), "-r", "72"]
    command += ["-x", str(int(box["x"])), "-y", str(int(box["y"]))]
    command += ["-W", str(int(box["width"]) + 1), "-H", str(int(box["height"]) + 1), "-", "-"]
    return subprocess.run(command, input=pdf, capture_output=True, check=True).stdout.decode()


def _roots():
    from keiyaku.pki.service import get_authority

    authority = get_authority()
    return authority.root_pem(), authority.tsa_cert.dump()


def test_party_cannot_change_another_partys_box(personas):
    contract, parties, boxes = three_party_contract(personas)
    services.contract_send(contract=contract, actor=personas.sender)
    agree(
        Client(),
        last_link(A.email),
        A.code,
        {
            f"box_{boxes['a_name']['id']}": "髙橋 一郎",
            f"box_{boxes['a_date']['id']}": "2026-04-01",
        },
    )
    stored = contract.documents.get().current_version()
    client = Client()
    link = last_link(B.email)
    enter_code(client, link, B.code)
    crafted = {
        f"box_{boxes['b_address']['id']}": "札幌市",
        f"box_{boxes['a_name']['id']}": "書き換え",  # party 1's box
    }
    response = client.post(link + "confirm/", crafted)
    assert response.status_code == 400 and "入力できない欄" in response.content.decode()
    shown = {f"sha256_{contract.documents.get().pk}": stored.blob.sha256}
    response = client.post(link + "complete/", {**shown, **crafted})
    assert response.status_code == 409
    assert contract.documents.get().current_version().pk == stored.pk  # the PDF is untouched
    assert Box.objects.get(pk=boxes["a_name"]["id"]).value == "髙橋 一郎"


def test_required_overlong_and_script_values(personas):
    contract, parties, boxes = three_party_contract(personas)
    services.contract_send(contract=contract, actor=personas.sender)
    client = Client()
    link = last_link(A.email)
    enter_code(client, link, A.code)
    name, date = f"box_{boxes['a_name']['id']}", f"box_{boxes['a_date']['id']}"

    response = client.post(link + "confirm/", {name: "", date: "2026-04-01"})
    assert (
        response.status_code == 400
        and "「代表者名」を入力してください" in response.content.decode()
    )
    response = client.post(link + "confirm/", {name: "髙橋", date: "2026-02-30"})
    assert "日付が正しくありません" in response.content.decode()
    response = client.post(link + "confirm/", {name: "長" * 60, date: "2026-04-01"})
    assert "欄に収まりません" in response.content.decode()  # refused, never silently cut

    script = "<script>alert(1)</script>"
    response = client.post(link + "confirm/", {name: script, date: "2026-04-01"})
    page = response.content.decode()
    assert script not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    agree(client, link, None, {name: script, date: "2026-04-01"})
    detail = staff_client(personas.sender).get(f"/contracts/{contract.pk}/").content.decode()
    assert script not in detail and "&lt;script&gt;" in detail


def test_placement_api_validates_and_hides_from_outsiders(personas):
    contract = draft_contract(personas.sender, externals=[A])
    doc, party = contract.documents.get(), contract.parties.get()
    client = staff_client(personas.sender)
    url = f"/contracts/{contract.pk}/boxes.json"
    bad = client.post(
        url,
        json.dumps(
            {
                "document": doc.pk,
                "page": 9,
                "x": 1,
                "y": 1,
                "width": 50,
                "height": 20,
                "party": party.pk,
            }
        ),
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["field"] == "page"
    outside = client.post(
        url,
        json.dumps(
            {
                "document": doc.pk,
                "page": 1,
                "x": 590,
                "y": 1,
                "width": 50,
                "height": 20,
                "party": party.pk,
            }
        ),
        content_type="application/json",
    )
    assert outside.status_code == 400 and "はみ出し" in outside.json()["error"]
    assert client.post(url, "{not json", content_type="application/json").status_code == 400
    box = place(
        client, contract, document=doc.pk, page=1, x=10, y=10, width=100, height=20, party=party.pk
    )
    moved = client.patch(
        f"/contracts/{contract.pk}/boxes/{box['id']}.json",
        json.dumps({"x": 30, "width": 120}),
        content_type="application/json",
    )
    assert moved.status_code == 200 and moved.json()["x"] == 30 and moved.json()["width"] == 120

    outsider = staff_client(personas.outsider)
    assert outsider.get(url).status_code == 404
    assert outsider.delete(f"/contracts/{contract.pk}/boxes/{box['id']}.json").status_code == 404
    assert client.delete(f"/contracts/{contract.pk}/boxes/{box['id']}.json").status_code == 204
    assert not Box.objects.exists()
    state = client.get(url).json()
    assert state["documents"][0]["pages"][0]["width"] > 500 and state["editable"] is True
    # A document stored before page sizes were recorded gets them measured, not guessed.
    type(doc).objects.filter(pk=doc.pk).update(page_sizes=[])
    again = client.get(url).json()["documents"][0]["pages"][0]
    assert (again["width"], again["height"]) == tuple(
        state["documents"][0]["pages"][0][k] for k in ("width", "height")
    )
    doc.refresh_from_db()
    assert len(doc.page_sizes) == 1
