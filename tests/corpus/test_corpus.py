"""Acceptance 1 of issue 10: every generated PDF kind (tests/pdf_corpus) through the whole flow.

Each kind is uploaded as a clerk does (the contract form over HTTP). A kind to refuse must be
refused with its code and a Japanese message on the page. A kind to complete gets a box near
each corner of page 1 (4 pt from the edges of the page as staff see it), two external parties
fill their boxes and agree over HTTP, the jobs run, and the final PDF must pass, with tools we
did not write where they exist: ``keiyaku verify`` (exit 0), pdfsig (every signature valid),
``qpdf --check`` (clean), ``openssl ts -verify`` (every timestamp), and the box values, drawn
by poppler (pdftoppm) and by PDFium, must lie inside their boxes give or take 1 pt.

Kinds join by being registered: a module added to tests/pdf_corpus is run here too.
"""

from __future__ import annotations

import ctypes
import html
import re
import subprocess
import tempfile
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, ImageChops

from keiyaku.contracts.models import Contract, ContractStatus
from keiyaku.pki.service import get_authority
from keiyaku.storage.blobs import blob_get
from tests.contracts.test_boxes import place, staff_client
from tests.flow import External, agree, keiyaku_verify, last_link
from tests.outside import openssl_verify_timestamps, pdfsig, qpdf_check
from tests.pdf_corpus import Kind, all_kinds
from tests.web.sending import send_confirmed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

KINDS = all_kinds()


def _on_postgres_too() -> set[str]:
    """The kinds the PostgreSQL run repeats: of each module, its first kind to complete and its
    first to refuse. The corpus examines PDFs; the database only records the upload and the
    agreements, the same rows for every kind. The SQLite run takes every kind."""
    first: dict[tuple[str, str], str] = {}
    for name, kind in KINDS.items():
        first.setdefault((kind.make.__module__, kind.expect), name)
    return set(first.values())


_SAMPLE = _on_postgres_too()

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("合同会社サンプル工務店", "鈴木 花子", "suzuki@sample.example.jp", "2222")
VALUES = {A: "髙橋建設㈱", B: "サンプル工務店"}

MARGIN = 4.0  # pt from each edge of the visible page
BOX_W, BOX_H = 110.0, 20.0
SLACK = 1.0  # pt: how far outside its box a value's ink may reach
SCALE = 2.0  # px per user-space unit in both renderings (144 dpi for points)
INK = 64  # grey levels of difference that count as ink

_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _upload(client: Client, name: str, data: bytes):
    return client.post(
        "/contracts/new/",
        {
            "title": f"コーパス {name}",
            "counterparty_company": A.company,
            "files": [SimpleUploadedFile(f"{name}.pdf", data, "application/pdf")],
        },
    )


def _page_errors(response) -> str:
    """The error texts a page shows (form errors and messages), for failure reports."""
    page = html.unescape(response.content.decode())
    return " | ".join(re.findall(r'class="error"[^>]*>(.*?)</', page, re.S)) or page[:1500]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=() if name in _SAMPLE else pytest.mark.database_independent)
        for name in sorted(KINDS)
    ],
)
def test_kind_is_refused_clearly_or_completes_verifiably(
    name: str, personas, refusals_seen, tmp_path: Path
) -> None:
    kind = KINDS[name]
    data = kind.make()
    client = staff_client(personas.sender)
    response = _upload(client, name, data)
    if kind.expect == "refuse":
        _assert_refused(kind, response, refusals_seen)
        return
    assert response.status_code == 302, f"upload refused: {_page_errors(response)}"
    contract = Contract.objects.get()
    document = contract.documents.get()
    assert set(kind.changes) <= set(document.ingest_changes), document.ingest_changes
    _complete(client, contract, document, tmp_path)


def _assert_refused(kind: Kind, response, refusals_seen) -> None:
    assert response.status_code == 400, (response.status_code, _page_errors(response))
    codes = [seen.code for seen in refusals_seen]
    assert kind.refusal_code in codes, codes
    refusal = next(seen for seen in refusals_seen if seen.code == kind.refusal_code)
    assert _JAPANESE.search(refusal.message), refusal.message
    assert refusal.message in html.unescape(response.content.decode())
    assert Contract.objects.count() == 0


def _complete(client: Client, contract: Contract, document, tmp_path: Path) -> None:
    for party in (A, B):
        response = client.post(
            f"/contracts/{contract.pk}/parties/",
            {
                "kind": "external",
                "company": party.company,
                "name": party.name,
                "email": party.email,
                "access_code": party.code,
                "role": "signer",
            },
        )
        assert response.status_code == 302, _page_errors(response)
    first, second = contract.parties.order_by("position")
    # What staff see before placing boxes: the placement state and page 1's image.
    state = client.get(f"/contracts/{contract.pk}/boxes.json")
    assert state.status_code == 200
    page_one = state.json()["documents"][0]["pages"][0]
    width, height = page_one["width"], page_one["height"]
    assert (width, height) == tuple(document.page_sizes[0])
    image = client.get(f"/contracts/{contract.pk}/documents/{document.pk}/pages/1.jpg")
    assert image.status_code == 200

    corners = [
        (MARGIN, MARGIN),
        (width - MARGIN - BOX_W, MARGIN),
        (MARGIN, height - MARGIN - BOX_H),
        (width - MARGIN - BOX_W, height - MARGIN - BOX_H),
    ]
    boxes = []
    for number, (x, y) in enumerate(corners):
        owner = first if number % 2 == 0 else second
        box = place(
            client,
            contract,
            document=document.pk,
            page=1,
            x=x,
            y=y,
            width=BOX_W,
            height=BOX_H,
            kind="text",
            label=f"隅{number + 1}",
            party=owner.pk,
        )
        boxes.append((owner, box))

    response = send_confirmed(client, contract, follow=True)
    assert response.status_code == 200
    contract.refresh_from_db()
    assert contract.status == ContractStatus.IN_PROGRESS, _page_errors(response)
    prepared = blob_get(document.current_version().blob)

    for external, party in ((A, first), (B, second)):
        values = {f"box_{box['id']}": VALUES[external] for owner, box in boxes if owner == party}
        agree(Client(), last_link(external.email), external.code, values)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    final = blob_get(document.current_version().blob)

    path = tmp_path / "final.pdf"
    path.write_bytes(final)
    verified = keiyaku_verify(path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    signatures = [s for s in pdfsig(final) if not s["is_document_timestamp"]]
    assert len(signatures) == 2, signatures
    authority = get_authority()
    assert openssl_verify_timestamps(final, authority.root_pem(), authority.tsa_cert.dump()) >= 3
    qpdf_check(final)

    rects = [(b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]) for _, b in boxes]
    widgets = _widget_rects(final)
    for (_, box), rect in zip(boxes, rects, strict=True):
        placed = widgets.get(f"keiyaku-box-{box['id']}")
        assert placed is not None, (box, sorted(widgets))
        assert all(abs(a - b) <= SLACK for a, b in zip(placed, rect, strict=True)), (placed, rect)
    for renderer in (_poppler, _pdfium):
        _assert_ink_inside(renderer(prepared), renderer(final), rects, renderer.__name__)


def _assert_ink_inside(
    before: Image.Image, after: Image.Image, rects: list[tuple[float, ...]], renderer: str
) -> None:
    """Every box got ink, and no ink changed outside the boxes (each grown by SLACK)."""
    assert before.size == after.size, (renderer, before.size, after.size)
    changed = ImageChops.difference(before, after).point(lambda p: 255 if p > INK else 0)
    for rect in rects:
        x0, y0, x1, y1 = rect
        inside = (
            int((x0 - SLACK) * SCALE),
            int((y0 - SLACK) * SCALE),
            int(-(-(x1 + SLACK) * SCALE // 1)),
            int(-(-(y1 + SLACK) * SCALE // 1)),
        )
        assert changed.crop(inside).getbbox() is not None, f"{renderer}: no value in box {rect}"
        changed.paste(0, inside)
    outside = changed.getbbox()
    if outside is not None:
        where = tuple(round(v / SCALE, 1) for v in outside)
        raise AssertionError(f"{renderer}: ink outside every box at {where} pt; boxes {rects}")


def _widget_rects(pdf: bytes) -> dict[str, tuple[float, ...]]:
    """Page 1's widget annotations by field name (/T): their /Rect as PDFium maps it onto the
    displayed page (crop box, rotation), in units from the top-left corner, y downwards."""
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        width, height = page.get_size()
        size_x, size_y = round(width * SCALE), round(height * SCALE)
        found = {}
        for index in range(pdfium_c.FPDFPage_GetAnnotCount(page)):
            annot = pdfium_c.FPDFPage_GetAnnot(page, index)
            try:
                if pdfium_c.FPDFAnnot_GetSubtype(annot) != pdfium_c.FPDF_ANNOT_WIDGET:
                    continue
                length = pdfium_c.FPDFAnnot_GetStringValue(annot, b"T", None, 0)
                buffer = ctypes.create_string_buffer(length)
                pdfium_c.FPDFAnnot_GetStringValue(
                    annot, b"T", ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), length
                )
                name = buffer.raw[: length - 2].decode("utf-16-le")
                rect = pdfium_c.FS_RECTF()
                assert pdfium_c.FPDFAnnot_GetRect(annot, rect)
                corners = []
                for x, y in ((rect.left, rect.top), (rect.right, rect.bottom)):
                    dx, dy = ctypes.c_int(), ctypes.c_int()
                    pdfium_c.FPDF_PageToDevice(
                        page, 0, 0, size_x, size_y, 0, x, y, ctypes.byref(dx), ctypes.byref(dy)
                    )
                    corners.append((dx.value / SCALE, dy.value / SCALE))
                (ax, ay), (bx, by) = corners
                found[name] = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
            finally:
                pdfium_c.FPDFPage_CloseAnnot(annot)
        page.close()
        return found
    finally:
        doc.close()


def _poppler(pdf: bytes) -> Image.Image:
    """Page 1 by pdftoppm (poppler), crop box, SCALE px per unit, greyscale (as PGM: PNG's
    compression took 0.2 s a page, eight times the rendering)."""
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        source = Path(tmp, "in.pdf")
        source.write_bytes(pdf)
        result = subprocess.run(
            [
                "pdftoppm",
                "-f",
                "1",
                "-l",
                "1",
                "-r",
                str(72 * SCALE),
                "-cropbox",
                "-gray",
                "-singlefile",
                str(source),
                str(Path(tmp, "page")),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        with Image.open(Path(tmp, "page.pgm")) as image:
            return image.convert("L")


def _pdfium(pdf: bytes) -> Image.Image:
    """Page 1 by PDFium with form fields drawn, SCALE px per unit, greyscale."""
    doc = pdfium.PdfDocument(pdf)
    try:
        doc.init_forms()
        page = doc[0]
        try:
            bitmap = page.render(scale=SCALE, may_draw_forms=True, grayscale=True)
            return bitmap.to_pil().convert("L")
        finally:
            page.close()
    finally:
        doc.close()


def test_the_corpus_has_every_kind_the_issue_names() -> None:
    """Acceptance 1: at least 40 kinds; the review's structural kinds are all there."""
    assert len(KINDS) >= 40, sorted(KINDS)
    for name in (
        "hybrid_xref",
        "broken_xref_offsets",
        "object_streams",
        "cropbox_larger_than_mediabox",
        "inherited_attributes",
        "owner_password_aes256",
        "incremental_updates",
        "pdf_2_0",
        "linearised",
        "six_hundred_pages",
        "filled_acroform",
        "scan_jbig2",
        "scan_ccitt_g4",
        "scan_large_jpeg",
    ):
        assert name in KINDS, name
