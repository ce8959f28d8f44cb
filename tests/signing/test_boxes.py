"""Staff-placed boxes: created before the first signature, filled in each party's revision.

Judged by pyHanko's validators and by outside tools (pdfsig, openssl, qpdf, poppler's text and
font reports, PDFium's rendering).
"""

from __future__ import annotations

import io
import re
import socket
from dataclasses import dataclass
from io import BytesIO

import pikepdf
import pytest
from PIL import Image, ImageChops
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from keiyaku.fonts import MissingGlyphError
from keiyaku.pki import revocation
from keiyaku.pki.authority import Authority
from keiyaku.signing import engine
from keiyaku.signing.boxes import BoxOverflow, BoxSpec, fill_box_fields
from keiyaku.signing.render import render_page_png
from tests.fixtures_pki import PARTIES, agreement_reason
from tests.outside import openssl_verify_timestamps, pdfsig, qpdf_check
from tests.pdfs import make_pdf, pdffonts, pdftotext

ADDRESS = (
    "〒060-8611 北海道札幌市中央区北1条西2丁目1番地 札幌市役所本庁舎12階 "
    "髙橋ビル㈱①号室 契約管理課気付 "
) * 4
ADDRESS = ADDRESS[:200]

BOXES = (
    BoxSpec("keiyaku-box-01", 0, (72, 300, 400, 322), "text"),
    BoxSpec("keiyaku-box-02", 0, (72, 260, 90, 278), "checkbox"),
    BoxSpec("keiyaku-box-03", 1, (72, 380, 480, 480), "multiline"),
    BoxSpec("keiyaku-box-04", 1, (72, 330, 250, 352), "date", font_size=12),
    BoxSpec("keiyaku-box-05", 0, (72, 200, 400, 222), "text"),
    BoxSpec("keiyaku-box-06", 0, (120, 260, 138, 278), "checkbox"),
)
FILLS = (
    {"keiyaku-box-01": "髙橋建設㈱ 代表取締役 髙橋一郎", "keiyaku-box-02": "1"},
    {"keiyaku-box-03": ADDRESS, "keiyaku-box-04": "令和8年4月1日"},
    {"keiyaku-box-05": "〒100-0001 ①号 合同会社サンプル", "keiyaku-box-06": "false"},
)
SIGNATURE_FIELDS = tuple(f"keiyaku-party-{n:02d}" for n in range(1, 4))
_BOX = {box.name: box for box in BOXES}


@dataclass(frozen=True)
class BoxContract:
    prepared: bytes
    signed: tuple[bytes, ...]
    final: bytes


@pytest.fixture(scope="module")
def box_contract(
    authority: Authority, tsa_url: str, service_signer: engine.ServiceSigner
) -> BoxContract:
    timestamper = engine.make_timestamper([tsa_url])
    prepared = engine.prepare(make_pdf(pages=2), field_names=SIGNATURE_FIELDS, boxes=BOXES)
    signed, current = [], prepared
    for n, (field_name, party, fill) in enumerate(
        zip(SIGNATURE_FIELDS, PARTIES, FILLS, strict=True)
    ):
        current = engine.sign_agreement(
            current,
            field_name=field_name,
            reason=agreement_reason(*party, f"2026-04-01 11:0{n}:00"),
            signer=service_signer,
            timestamper=timestamper,
            fill=fill,
        )
        signed.append(current)
    final = engine.finalize(
        current,
        timestamper=timestamper,
        validation_context=revocation.validation_context(authority),
    )
    return BoxContract(prepared=prepared, signed=tuple(signed), final=final)


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(pdf))


def _field(pdf: bytes, name: str):
    for ref in _reader(pdf).root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        if field["/T"] == name:
            return field
    raise KeyError(name)


def _dead_timestamper() -> object:
    """Fails if asked: proves a refusal happened before any TSA request."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return engine.make_timestamper([f"http://127.0.0.1:{port}/tsa"], timeout=2)


# --- preparing --------------------------------------------------------------------------------


def test_prepare_creates_read_only_empty_box_fields() -> None:
    prepared = engine.prepare(make_pdf(pages=2), field_names=SIGNATURE_FIELDS, boxes=BOXES)
    reader = _reader(prepared)
    assert not reader.embedded_signatures
    names = [ref.get_object()["/T"] for ref in reader.root["/AcroForm"]["/Fields"]]
    assert names == [*SIGNATURE_FIELDS, *(box.name for box in BOXES)]
    for box in BOXES:
        field = _field(prepared, box.name)
        assert "/V" not in field
        assert int(field["/Ff"]) & 1  # read-only
        assert [float(v) for v in field["/Rect"]] == list(box.rect)
        page = reader.root["/Pages"]["/Kids"][box.page_index].get_object()
        assert any(
            a.get_object() is field or a.get_object()["/T"] == box.name for a in page["/Annots"]
        )
        if box.kind == "checkbox":
            assert field["/FT"] == "/Btn" and field["/AS"] == "/Off"
            assert set(field["/AP"]["/N"]) == {"/Off", "/Yes"}
        else:
            assert field["/FT"] == "/Tx"
            assert bool(int(field["/Ff"]) & 4096) == (box.kind == "multiline")
            assert field["/AP"]["/N"].data == b""
    qpdf_check(prepared)


@pytest.mark.parametrize(
    "boxes",
    [
        [BoxSpec("keiyaku-box-01", 2, (72, 72, 200, 100), "text")],
        [BoxSpec("keiyaku-box-01", 0, (72, 72, 900, 100), "text")],
        [BoxSpec("keiyaku-party-01", 0, (72, 72, 200, 100), "text")],
        [BoxSpec("a", 0, (72, 72, 200, 100), "text"), BoxSpec("a", 0, (9, 9, 50, 50), "date")],
    ],
    ids=["no-such-page", "off-page", "clashes-with-signature", "duplicate"],
)
def test_prepare_refuses_bad_boxes(boxes: list[BoxSpec]) -> None:
    with pytest.raises(ValueError):
        engine.prepare(make_pdf(pages=2), field_names=["keiyaku-party-01"], boxes=boxes)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "has.dot"},
        {"kind": "signature"},
        {"rect": (100, 100, 50, 120)},
        {"page_index": -1},
        {"font_size": 0},
    ],
    ids=repr,
)
def test_box_spec_refuses_bad_values(kwargs: dict) -> None:
    spec = {"name": "keiyaku-box-1", "page_index": 0, "rect": (1, 1, 50, 20), "kind": "text"}
    with pytest.raises(ValueError):
        BoxSpec(**(spec | kwargs))


# --- the three-party contract -----------------------------------------------------------------


def test_each_party_fills_its_boxes_in_its_own_signature_revision(
    box_contract: BoxContract,
) -> None:
    stages = [box_contract.prepared, *box_contract.signed]
    for n, (before, after) in enumerate(zip(stages, stages[1:], strict=False)):
        assert after.startswith(before)
        assert _reader(after).total_revisions == _reader(before).total_revisions + 1
        for name in FILLS[n]:
            assert "/V" not in _field(before, name)
            assert "/V" in _field(after, name)
    values = {name: v for fill in FILLS for name, v in fill.items()}
    for name, value in values.items():
        field = _field(box_contract.final, name)
        if _BOX[name].kind == "checkbox":
            state = "/Yes" if value == "1" else "/Off"
            assert field["/V"] == state and field["/AS"] == state
        else:
            assert field["/V"] == value


def test_final_pdf_validates_with_pyhanko(box_contract: BoxContract, authority: Authority) -> None:
    report = engine.verify(box_contract.final, trust_roots=[authority.root_cert])
    assert report.ok and report.ltv_ok, report.as_dict()
    signatures = [s for s in report.signatures if s.kind == engine.SIGNATURE]
    assert [s.field_name for s in signatures] == list(SIGNATURE_FIELDS)
    for item in report.signatures:
        assert item.intact and item.valid and item.trusted, item
        assert item.modification_level in ("NONE", "LTA_UPDATES", "FORM_FILLING"), item
    # The first two signatures saw later parties fill boxes: that is form filling, no more.
    assert signatures[0].modification_level == "FORM_FILLING"


def test_final_pdf_validates_with_outside_tools(
    box_contract: BoxContract, authority: Authority
) -> None:
    results = pdfsig(box_contract.final, trust_root_pem=authority.root_pem())
    assert [r["field_name"] for r in results] == [*SIGNATURE_FIELDS, "keiyaku-timestamp-01"]
    assert (
        openssl_verify_timestamps(
            box_contract.final, authority.root_pem(), authority.tsa_cert.dump()
        )
        == len(SIGNATURE_FIELDS) + 1
    )
    for pdf in (box_contract.prepared, *box_contract.signed, box_contract.final):
        qpdf_check(pdf)


def test_pdftotext_finds_every_value(box_contract: BoxContract) -> None:
    text = pdftotext(box_contract.final)
    assert "髙橋建設㈱ 代表取締役 髙橋一郎" in text
    assert "〒100-0001 ①号 合同会社サンプル" in text
    assert "令和8年4月1日" in text
    # Wrapped over several lines: compare without the line breaks (and spaces) poppler adds.
    assert re.sub(r"\s", "", ADDRESS) in re.sub(r"\s", "", text)
    assert "髙橋建設㈱" not in pdftotext(box_contract.prepared)


def test_added_fonts_are_embedded(box_contract: BoxContract) -> None:
    before = pdffonts(make_pdf(pages=2))
    after = pdffonts(box_contract.final)
    assert all(embedded for _, embedded in after), after
    added = [name for name, _ in after if (name, True) not in before]
    assert added and all(name.endswith("+IPAexGothic") for name in added), after


def _image(pdf: bytes, page: int) -> Image.Image:
    return Image.open(io.BytesIO(render_page_png(pdf, page, width_px=1190))).convert("L")


def _pixels(box: BoxSpec, image: Image.Image) -> tuple[int, int, int, int]:
    """The box's rect in the image (A4 595 pt wide rendered 1190 px: 2 px a point)."""
    scale = image.width / 595
    x1, y1, x2, y2 = box.rect
    height = image.height
    return (
        round(x1 * scale),
        round(height - y2 * scale),
        round(x2 * scale),
        round(height - y1 * scale),
    )


def _dark(image: Image.Image) -> int:
    return sum(image.histogram()[:128])


def test_rendered_values_appear_inside_their_boxes(box_contract: BoxContract) -> None:
    for page in (0, 1):
        before = _image(box_contract.prepared, page)
        after = _image(box_contract.final, page)
        changed = ImageChops.difference(before, after).point(lambda p: 255 if p > 64 else 0)
        boxes = [b for b in BOXES if b.page_index == page]
        for box in boxes:
            region = _pixels(box, after)
            area = (region[2] - region[0]) * (region[3] - region[1])
            if box.kind == "checkbox":
                # An empty square from the start; the party's answer is drawn inside it.
                assert _dark(before.crop(region)) > 0, box.name
                if box.name == "keiyaku-box-06":  # left unchecked: still the empty square
                    assert _dark(after.crop(region)) == _dark(before.crop(region))
                    continue
                assert _dark(after.crop(region)) > _dark(before.crop(region)) + area * 0.02
            else:
                assert _dark(before.crop(region)) == 0
                assert _dark(after.crop(region)) > area * 0.02, box.name
            changed.paste(0, region)  # what remains changed lies outside every box
        assert changed.getbbox() is None, (page, changed.getbbox())


def test_checked_and_unchecked_boxes_look_different(box_contract: BoxContract) -> None:
    image = _image(box_contract.final, 0)
    checked = image.crop(_pixels(_BOX["keiyaku-box-02"], image))
    unchecked = image.crop(_pixels(_BOX["keiyaku-box-06"], image))
    assert checked.size == unchecked.size
    width, height = checked.size
    inside = (width // 4, height // 4, width - width // 4, height - height // 4)
    # Both are drawn as a square (☐ reads as "no" on paper, not as a missing box) …
    for box in (checked, unchecked):
        border = _dark(box) - _dark(box.crop(inside))
        assert border > (width + height), border
    # … and only the checked one has a mark inside it.
    assert _dark(checked.crop(inside)) > (width // 2) * (height // 2) * 0.1
    assert _dark(unchecked.crop(inside)) == 0


# --- refusals ---------------------------------------------------------------------------------


def test_an_unknown_box_is_refused(
    box_contract: BoxContract, service_signer: engine.ServiceSigner
) -> None:
    for fill in ({"keiyaku-box-99": "x"}, {"keiyaku-party-02": "x"}):
        with pytest.raises(ValueError, match="no box|not a box"):
            engine.sign_agreement(
                box_contract.prepared,
                field_name="keiyaku-party-01",
                reason="x",
                signer=service_signer,
                timestamper=_dead_timestamper(),
                fill=fill,
            )


def test_a_later_party_cannot_change_an_earlier_value(
    box_contract: BoxContract, service_signer: engine.ServiceSigner
) -> None:
    for name in ("keiyaku-box-01", "keiyaku-box-02"):
        with pytest.raises(ValueError, match="already filled"):
            engine.sign_agreement(
                box_contract.signed[0],
                field_name="keiyaku-party-02",
                reason="x",
                signer=service_signer,
                timestamper=_dead_timestamper(),
                fill={name: "0"},
            )


def test_overflow_is_refused_never_cut(
    box_contract: BoxContract, service_signer: engine.ServiceSigner
) -> None:
    too_long = {
        "keiyaku-box-01": "長" * 40,  # one line, 328 pt wide at 10.5 pt: 31 characters fit
        "keiyaku-box-03": ADDRESS * 3,  # 100 pt high: wraps to more lines than fit
        "keiyaku-box-02": "maybe",
    }
    for name, value in too_long.items():
        expected = ValueError if name == "keiyaku-box-02" else BoxOverflow
        with pytest.raises(expected) as raised:
            engine.sign_agreement(
                box_contract.prepared,
                field_name="keiyaku-party-01",
                reason="x",
                signer=service_signer,
                timestamper=_dead_timestamper(),
                fill={name: value},
            )
        if expected is BoxOverflow:
            assert name in str(raised.value)


def test_a_line_break_in_a_single_line_box_is_refused(
    box_contract: BoxContract, service_signer: engine.ServiceSigner
) -> None:
    with pytest.raises(ValueError, match="line break"):
        engine.sign_agreement(
            box_contract.prepared,
            field_name="keiyaku-party-01",
            reason="x",
            signer=service_signer,
            timestamper=_dead_timestamper(),
            fill={"keiyaku-box-01": "一行目\n二行目"},
        )


def test_a_character_the_font_lacks_is_refused(
    box_contract: BoxContract, service_signer: engine.ServiceSigner
) -> None:
    with pytest.raises(MissingGlyphError) as raised:
        engine.sign_agreement(
            box_contract.prepared,
            field_name="keiyaku-party-01",
            reason="x",
            signer=service_signer,
            timestamper=_dead_timestamper(),
            fill={"keiyaku-box-01": "山田 \U0001f600", "keiyaku-box-05": "𠮷野家"},
        )
    assert raised.value.characters == {"\U0001f600", "𠮷"}


def test_filling_nothing_is_the_old_behaviour(
    box_contract: BoxContract, service_signer: engine.ServiceSigner, tsa_url: str
) -> None:
    pdf = engine.sign_agreement(
        box_contract.prepared,
        field_name="keiyaku-party-01",
        reason="x",
        signer=service_signer,
        timestamper=engine.make_timestamper([tsa_url]),
    )
    assert all("/V" not in _field(pdf, box.name) for box in BOXES)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_values_are_upright_on_a_rotated_page(rotate: int) -> None:
    with pikepdf.open(io.BytesIO(make_pdf())) as doc:
        doc.pages[0].Rotate = rotate
        out = io.BytesIO()
        doc.save(out)
    # Wide as displayed: on a page turned by 90 or 270 degrees that is tall in user space.
    rect = (300, 100, 322, 500) if rotate in (90, 270) else (100, 300, 500, 322)
    box = BoxSpec("keiyaku-box-01", 0, rect, "text")
    prepared = engine.prepare(out.getvalue(), field_names=["keiyaku-party-01"], boxes=[box])
    writer = IncrementalPdfFileWriter(BytesIO(prepared))
    fill_box_fields(writer, {"keiyaku-box-01": "髙橋建設㈱ 代表取締役 髙橋一郎"})
    filled = BytesIO()
    writer.write(filled)
    before, after = (
        Image.open(io.BytesIO(render_page_png(pdf, 0))).convert("L")
        for pdf in (prepared, filled.getvalue())
    )
    x1, y1, x2, y2 = ImageChops.difference(before, after).getbbox()
    assert x2 - x1 > 6 * (y2 - y1)  # one line of text, read left to right
    assert "髙橋建設㈱ 代表取締役 髙橋一郎" in pdftotext(filled.getvalue())


def test_characters_sharing_a_glyph_are_extracted_as_typed() -> None:
    # IPAex draws - (U+002D) and ‐ (U+2010) with one glyph; text search must tell them apart.
    box = BoxSpec("keiyaku-box-01", 0, (72, 300, 500, 400), "multiline")
    prepared = engine.prepare(make_pdf(), field_names=["keiyaku-party-01"], boxes=[box])
    writer = IncrementalPdfFileWriter(BytesIO(prepared))
    value = "電話 011-211-2111\n部署 契約‐管理課\n\n以上"
    fill_box_fields(writer, {"keiyaku-box-01": value})
    filled = BytesIO()
    writer.write(filled)
    lines = [line for line in pdftotext(filled.getvalue()).splitlines() if line]
    for line in ("電話 011-211-2111", "部署 契約‐管理課", "以上"):
        assert line in lines
    qpdf_check(filled.getvalue())
