import hashlib
import io
import random

import pikepdf
import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from keiyaku.fonts import MissingGlyphError
from keiyaku.signing.ingest import (
    IngestChange,
    Ingested,
    RefusedUpload,
    ingest_pdf,
    stamp_certificate_id,
)
from keiyaku.signing.render import page_count, page_sizes, render_page_png
from tests.pdfs import (
    beyond_repair_pdf,
    make_encrypted_pdf,
    make_hybrid_xref_pdf,
    make_owner_password_only_pdf,
    make_pdf,
    make_signed_pdf,
    make_test_signer,
    pdffonts,
    pdfsig,
    pdftotext,
    qpdf_check,
    sign_incrementally,
    truncated_pdf,
)

MB = 1024 * 1024
LIMIT = 20 * MB


def _refused(data: bytes, *, max_bytes: int = LIMIT) -> RefusedUpload:
    with pytest.raises(RefusedUpload) as info:
        ingest_pdf(data, max_bytes=max_bytes)
    assert str(info.value) == info.value.message
    return info.value


def _rewrite(data: bytes, **save_options) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(out, **save_options)
    return out.getvalue()


# Accepted ---------------------------------------------------------------------------------


def test_normal_pdf_is_accepted_with_hashes_and_pages():
    data = make_pdf(pages=3)
    result = ingest_pdf(data, max_bytes=LIMIT)
    assert isinstance(result, Ingested)
    assert result.original_sha256 == hashlib.sha256(data).hexdigest()
    assert result.normalised_sha256 == hashlib.sha256(result.normalised).hexdigest()
    assert result.page_count == 3
    assert [(round(w), round(h)) for w, h in result.page_sizes] == [(595, 842)] * 3
    assert page_count(result.normalised) == 3


def test_normalising_is_deterministic():
    data = make_pdf(pages=2)
    first = ingest_pdf(data, max_bytes=LIMIT).normalised
    assert ingest_pdf(data, max_bytes=LIMIT).normalised == first  # no scope: checked again


def test_output_passes_qpdf_check_and_has_a_classic_xref():
    normalised = ingest_pdf(make_pdf(pages=2), max_bytes=LIMIT).normalised
    check = qpdf_check(normalised)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors found" in check.stdout
    assert "WARNING" not in check.stdout + check.stderr
    assert b"/ObjStm" not in normalised
    assert b"/XRefStm" not in normalised
    assert b"\nxref\n" in normalised


def test_hybrid_xref_file_is_accepted_and_rewritten_without_it():
    result = ingest_pdf(make_hybrid_xref_pdf(), max_bytes=LIMIT)
    assert result.page_count == 1
    assert b"/XRefStm" not in result.normalised
    assert b"/ObjStm" not in result.normalised
    assert qpdf_check(result.normalised).returncode == 0
    # PDFium cannot load the page of the original; after normalising it can.
    assert render_page_png(result.normalised, 0).startswith(b"\x89PNG")


def test_object_streams_are_expanded():
    data = _rewrite(make_pdf(pages=2), object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"/ObjStm" in data
    result = ingest_pdf(data, max_bytes=LIMIT)
    assert b"/ObjStm" not in result.normalised
    assert result.page_count == 2


def test_owner_password_only_pdf_is_accepted_and_decrypted():
    data = make_owner_password_only_pdf()
    result = ingest_pdf(data, max_bytes=LIMIT)
    assert result.page_count == 2
    assert b"/Encrypt" not in result.normalised
    with pikepdf.open(io.BytesIO(result.normalised)) as pdf:
        assert not pdf.is_encrypted


def test_unsigned_signature_field_is_accepted():
    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf()))
    append_signature_field(writer, SigFieldSpec("Empty", box=(20, 20, 120, 60)))
    out = io.BytesIO()
    writer.write(out)
    assert ingest_pdf(out.getvalue(), max_bytes=LIMIT).page_count == 1


def test_file_of_exactly_the_limit_is_accepted():
    data = make_pdf(pages=2, pad_bytes=MB)
    assert ingest_pdf(data, max_bytes=len(data)).page_count == 2


def test_20_mb_file_is_accepted():
    data = make_pdf(pages=5, pad_bytes=LIMIT - 20_000)
    assert len(data) <= LIMIT
    result = ingest_pdf(data, max_bytes=LIMIT)
    assert result.page_count == 5
    assert len(result.normalised) > LIMIT - 100_000


def test_header_after_leading_junk_within_1_kib_is_accepted():
    assert ingest_pdf(b"\0" * 500 + make_pdf(), max_bytes=LIMIT).page_count == 1


def test_nearly_complete_file_repaired_with_all_pages_is_accepted():
    # Decision: qpdf may repair a damaged file; we keep it only when nothing is missing.
    data = make_pdf(pages=3)
    damaged = data[: data.rindex(b"startxref")]  # xref pointer and %%EOF lost
    result = ingest_pdf(damaged, max_bytes=LIMIT)
    assert result.page_count == 3
    assert qpdf_check(result.normalised).returncode == 0


# The normalised file is what every signature is appended to --------------------------------


def test_output_takes_a_signature_field_and_an_incremental_signature():
    normalised = ingest_pdf(make_pdf(pages=2), max_bytes=LIMIT).normalised
    writer = IncrementalPdfFileWriter(io.BytesIO(normalised))
    append_signature_field(writer, SigFieldSpec("Party1", box=(40, 40, 200, 80), on_page=1))
    with_field = io.BytesIO()
    writer.write(with_field)

    signed = sign_incrementally(with_field.getvalue(), field_name="Party1")
    assert signed.startswith(normalised)  # appended, never rewritten

    reader = PdfFileReader(io.BytesIO(signed))
    (embedded,) = reader.embedded_signatures
    signer = make_test_signer()
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[signer.signing_cert]))
    assert status.intact and status.valid and status.bottom_line
    assert "Signature is Valid." in pdfsig(signed)


def test_owner_password_output_can_be_signed():
    normalised = ingest_pdf(make_owner_password_only_pdf(), max_bytes=LIMIT).normalised
    assert "Signature is Valid." in pdfsig(sign_incrementally(normalised))


# Refused ----------------------------------------------------------------------------------


def test_empty_file_is_refused():
    assert _refused(b"").code == "empty"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\0" * 2000,
        "工事請負契約書\n第1条 ……".encode(),
        b"PK\x03\x04" + b"\0" * 100,
        b" " * 1100 + b"%PDF-1.7\n",
    ],
    ids=["png", "text", "zip", "header-after-1-kib"],
)
def test_non_pdf_renamed_pdf_is_refused(data):
    error = _refused(data)
    assert error.code == "not_pdf"
    assert error.message == "PDFファイルではありません。"


@pytest.mark.parametrize(
    "data",
    [beyond_repair_pdf(), truncated_pdf(), b"%PDF-1.7\n" + b"garbage " * 100],
    ids=["header-and-a-few-bytes", "half-file", "header-then-garbage"],
)
def test_corrupt_file_is_refused(data):
    error = _refused(data)
    assert error.code == "corrupt"
    assert error.message == "ファイルが壊れているため読み込めません。"


def test_truncated_linearized_file_is_refused_even_though_qpdf_opens_it():
    # The first-page section of a linearized file survives a cut, so qpdf "repairs" it;
    # pages are missing, so we refuse.
    data = _rewrite(make_pdf(pages=6), linearize=True)
    assert _refused(data[: int(len(data) * 0.99)]).code == "corrupt"
    assert _refused(data[: len(data) // 2]).code == "corrupt"


def test_password_protected_pdf_is_refused():
    error = _refused(make_encrypted_pdf())
    assert error.code == "encrypted"
    assert "パスワード" in error.message


def test_file_over_the_limit_is_refused_before_parsing():
    data = make_pdf(pad_bytes=21 * MB)
    error = _refused(data, max_bytes=LIMIT)
    assert error.code == "too_large"
    assert error.message == "ファイルサイズが上限（20MB）を超えています。"
    # Size is checked first: even non-PDF bytes over the limit say "too large".
    assert _refused(b"x" * 101, max_bytes=100).code == "too_large"


def test_signed_pdf_is_refused():
    error = _refused(make_signed_pdf())
    assert error.code == "signed"
    assert error.message == "電子署名済みのPDFは登録できません。"


def test_signed_pdf_rewritten_by_another_tool_is_still_refused():
    assert _refused(_rewrite(make_signed_pdf())).code == "signed"


@pytest.mark.filterwarnings("ignore:.*form widget annotation")
def test_signature_reachable_without_the_acroform_is_still_refused():
    with pikepdf.open(io.BytesIO(make_signed_pdf())) as pdf:
        del pdf.Root["/AcroForm"]  # the widget on the page still holds the signature
        out = io.BytesIO()
        pdf.save(out)
    assert _refused(out.getvalue()).code == "signed"


def test_docmdp_permissions_are_refused():
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        pdf.Root.Perms = pikepdf.Dictionary(DocMDP=pikepdf.Dictionary(Type=pikepdf.Name.Sig))
        out = io.BytesIO()
        pdf.save(out)
    assert _refused(out.getvalue()).code == "signed"


def test_reader_extensions_usage_rights_are_dropped_not_refused():
    # Decision: a /UR3 signature only unlocks Adobe Reader features; we strip it.
    result = ingest_pdf(usage_rights_pdf(), max_bytes=LIMIT)
    assert b"/UR3" not in result.normalised
    assert b"/ByteRange" not in result.normalised
    assert result.changes == (IngestChange.USAGE_RIGHTS_REMOVED,)


def usage_rights_pdf() -> bytes:
    """A PDF carrying a Reader-extensions /UR3 usage-rights signature."""
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        usage_rights = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Sig,
                Filter=pikepdf.Name("/Adobe.PPKLite"),
                ByteRange=pikepdf.Array([0, 10, 20, 30]),
                Contents=pikepdf.String(b"\0" * 64),
                Reference=pikepdf.Array([pikepdf.Dictionary(TransformMethod=pikepdf.Name("/UR3"))]),
            )
        )
        pdf.Root.Perms = pikepdf.Dictionary(UR3=usage_rights)
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def test_a_plain_file_is_recorded_with_no_change():
    assert ingest_pdf(make_pdf(), max_bytes=LIMIT).changes == ()


@pytest.mark.django_db
def test_what_ingest_changed_is_stored_audited_and_shown_to_staff(personas, client):
    from keiyaku.audit.models import Event
    from keiyaku.contracts import services
    from keiyaku.contracts.services.drafting import Upload

    contract = services.contract_create(
        actor=personas.sender,
        title="利用権限つき",
        uploads=[Upload("form.pdf", usage_rights_pdf()), Upload("plain.pdf", make_pdf())],
    )
    form, plain = contract.documents.order_by("position")
    assert form.ingest_changes == ["usage_rights_removed"]
    assert plain.ingest_changes == []
    event = Event.objects.get(subject=contract.audit_subject, event="contract.create")
    assert event.detail["ingest_changes"] == {"form.pdf": ["usage_rights_removed"]}
    client.force_login(personas.sender)
    page = client.get(f"/contracts/{contract.pk}/").content.decode()
    assert page.count("Reader Extensions") == 1


def test_pdf_without_pages_is_refused():
    out = io.BytesIO()
    pikepdf.new().save(out)
    assert _refused(out.getvalue()).code == "no_pages"


def test_damaged_bytes_only_ever_raise_refused_upload():
    rng = random.Random(20260401)
    base = make_pdf(pages=2)
    codes = set()
    for _ in range(60):
        data = bytearray(base)
        for _ in range(rng.randint(1, 30)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            ingest_pdf(bytes(data), max_bytes=LIMIT)
        except RefusedUpload as error:
            codes.add(error.code)
    # text_not_drawable: a damaged embedded font that PDFium replaces with one lacking glyphs.
    assert codes <= {"corrupt", "no_pages", "not_pdf", "signed", "encrypted", "text_not_drawable"}


# Certificate ID stamp ---------------------------------------------------------------------

MM = 72 / 25.4


def _with_page_geometry(data: bytes, *, rotate: int, mediabox=None, cropbox=None) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        page = pdf.pages[0]
        page.Rotate = rotate
        if mediabox:
            page.MediaBox = mediabox
        if cropbox:
            page.CropBox = cropbox
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def _ink_box(before: bytes, after: bytes) -> tuple[int, int, int, int, int, int]:
    """Bounding box of what stamping drew on page 1, in points as displayed (1 px = 1 pt)."""
    from PIL import Image, ImageChops

    def image(pdf: bytes) -> Image.Image:
        width = round(page_sizes(pdf)[0][0])
        return Image.open(io.BytesIO(render_page_png(pdf, 0, width_px=width))).convert("L")

    old, new = image(before), image(after)
    box = ImageChops.difference(old, new).getbbox()
    assert box is not None, "nothing was drawn"
    return (*box, new.width, new.height)


def test_stamp_prints_the_id_on_page_1_in_the_embedded_font():
    stamped = stamp_certificate_id(make_pdf(pages=2), "KC-2026-000123")
    assert "締結証明書ID: KC-2026-000123" in pdftotext(stamped, first=1, last=1)
    assert "締結証明書ID" not in pdftotext(stamped, first=2, last=2)
    fonts = pdffonts(stamped)
    assert len(fonts) == 2  # the contract's subset and the stamp's own subset
    assert all(embedded for _, embedded in fonts)
    assert all(name.endswith("+IPAexGothic") for name, _ in fonts)
    assert len({name for name, _ in fonts}) == 2  # distinct subset tags


def test_stamped_file_is_clean_and_signable():
    normalised = ingest_pdf(make_pdf(), max_bytes=LIMIT).normalised
    stamped = stamp_certificate_id(normalised, "KC-1")
    check = qpdf_check(stamped)
    assert check.returncode == 0 and "WARNING" not in check.stdout + check.stderr
    assert ingest_pdf(stamped, max_bytes=LIMIT).page_count == 1
    assert "Signature is Valid." in pdfsig(sign_incrementally(stamped))


def test_stamp_label_can_be_changed():
    stamped = stamp_certificate_id(make_pdf(), "X1", label="Certificate ID")
    assert "Certificate ID: X1" in pdftotext(stamped, first=1, last=1)


def test_stamp_refuses_characters_the_font_cannot_draw():
    with pytest.raises(MissingGlyphError):
        stamp_certificate_id(make_pdf(), "KC-\U000f0000")


@pytest.mark.parametrize("rotate", [0, 90, 180, 270, -90])
@pytest.mark.parametrize(
    ("mediabox", "cropbox"),
    [(None, None), ([-50, 30, 700, 900], [0, 60, 600, 860])],
    ids=["a4", "offset-crop-box"],
)
def test_stamp_lands_bottom_left_as_displayed(rotate, mediabox, cropbox):
    before = _with_page_geometry(make_pdf(), rotate=rotate, mediabox=mediabox, cropbox=cropbox)
    after = stamp_certificate_id(before, "KC-1")
    left, top, right, bottom, _, height = _ink_box(before, after)
    assert left == pytest.approx(10 * MM, abs=3)
    assert height - bottom == pytest.approx(10 * MM, abs=4)  # baseline 10 mm up, descenders
    assert 5 <= bottom - top <= 12  # 7.5 pt text, upright
    assert right - left > 5 * (bottom - top)  # runs left to right, not up the page


def test_the_same_upload_again_is_not_checked_again(monkeypatch, settings):
    """A template sent to many firms: the second upload of the same bytes for the same
    organisation under the same settings gets the first one's result without a budgeted child;
    another organisation, other settings, another `keep_links` or a refusal are checked
    afresh, and nothing is reused without a scope."""
    from keiyaku.signing import budget

    children: list[str] = []
    run = budget.run

    def counted(func, *args, **kwargs):
        children.append(func.__name__)
        return run(func, *args, **kwargs)

    monkeypatch.setattr(budget, "run", counted)
    pdf = make_pdf(pages=2, text="同じ契約書")
    city = "organisation:1"
    first = ingest_pdf(pdf, max_bytes=LIMIT, reuse_within=city)
    checked = len(children)
    assert checked >= 2
    assert ingest_pdf(pdf, max_bytes=LIMIT, reuse_within=city) == first
    assert len(children) == checked  # not checked again

    # Never across organisations (a quick answer would tell), nor without a scope.
    assert ingest_pdf(pdf, max_bytes=LIMIT, reuse_within="organisation:2") == first
    assert len(children) == 2 * checked
    ingest_pdf(pdf, max_bytes=LIMIT)
    assert len(children) == 3 * checked
    ingest_pdf(pdf, max_bytes=LIMIT, keep_links=True, reuse_within=city)
    assert len(children) == 4 * checked
    settings.KEIYAKU_MAX_PAGES = 1  # a setting the checks depend on: checked, and refused
    with pytest.raises(RefusedUpload):
        ingest_pdf(pdf, max_bytes=LIMIT, reuse_within=city)
    with pytest.raises(RefusedUpload):  # a refusal is not kept either
        ingest_pdf(pdf, max_bytes=LIMIT, reuse_within=city)
    assert len(children) >= 4 * checked + 2
