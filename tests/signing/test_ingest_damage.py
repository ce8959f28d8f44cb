"""Damage judged by what matters, not by qpdf's warnings; protection named for what it is
(issue 10, finding 10)."""

from __future__ import annotations

import io
import zlib

import pikepdf
import pytest
from PIL import Image

from keiyaku.signing.damage import inflate_without_end_marker
from keiyaku.signing.ingest import RefusedUpload, ingest_pdf
from keiyaku.signing.render import render_page_png
from tests.outside import qpdf_check
from tests.pdf_corpus import damage
from tests.pdfs import make_pdf, pdftotext

LIMIT = 20 * 1024 * 1024


def _refused(data: bytes) -> RefusedUpload:
    with pytest.raises(RefusedUpload) as info:
        ingest_pdf(data, max_bytes=LIMIT)
    return info.value


def _red_pixels(pdf: bytes) -> int:
    image = Image.open(io.BytesIO(render_page_png(pdf, 0, width_px=600))).convert("RGB")
    colours = image.getcolors(image.width * image.height) or []
    return sum(n for n, (r, g, b) in colours if r > 200 and g < 60 and b < 60)


@pytest.mark.parametrize(
    "make",
    [
        damage.flate_without_end_marker_acrobat,
        damage.flate_without_end_marker_preview,
        damage.stream_keyword_cr_only,
        damage.recovered_stream_length,
    ],
    ids=lambda make: make.__name__,
)
def test_harmless_quirks_are_accepted_and_come_out_clean(make):
    data = make()
    result = ingest_pdf(data, max_bytes=LIMIT)
    assert result.changes == ()
    qpdf_check(result.normalised)  # the repaired streams were rewritten whole
    # What the update drew is still drawn, and the contract's text is all there.
    assert _red_pixels(result.normalised) > 500
    assert "第6条（検査及び引渡し）" in pdftotext(result.normalised, first=1, last=1)


def test_the_repaired_stream_decodes_to_exactly_what_was_written():
    result = ingest_pdf(damage.flate_without_end_marker_acrobat(), max_bytes=LIMIT)
    with pikepdf.open(io.BytesIO(result.normalised)) as pdf:
        drawn = b"".join(c.read_bytes() for c in pdf.pages[0].Contents)
    assert damage.RED_SQUARE * 30 in drawn


def test_a_stream_cut_inside_its_deflate_data_is_refused_as_corrupt():
    error = _refused(damage.flate_cut_inside_deflate_data())
    assert error.code == "corrupt"
    assert error.message == "ファイルが壊れているため読み込めません。"


def test_an_object_lost_at_the_end_of_a_cut_file_is_refused():
    assert _refused(damage.object_lost_at_the_end()).code == "corrupt"


def test_a_page_the_tree_declares_but_the_file_lost_is_refused():
    data = make_pdf(pages=3)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        number = pdf.pages[1].obj.objgen[0]
    # The second page's object is overwritten with spaces: the tree still counts 3.
    start = data.index(b"\n%d 0 obj" % number) + 1
    end = data.index(b"endobj", start) + len(b"endobj")
    damaged = data[:start] + b" " * (end - start) + data[end:]
    assert _refused(damaged).code == "corrupt"


def test_a_page_listed_but_absent_is_refused_though_qpdf_drops_it_silently():
    assert _refused(damage.page_missing_from_file()).code == "corrupt"


def test_certificate_encryption_is_named_not_called_damage():
    error = _refused(damage.certificate_encrypted())
    assert error.code == "certificate_encrypted"
    assert "証明書" in error.message and "壊れ" not in error.message


def test_a_certificate_encrypted_file_written_by_pyhanko_is_named_too():
    # The same refusal for a file encrypted for a real recipient certificate.
    import datetime as dt

    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "受信者")])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(make_pdf())))
    writer.encrypt_pubkey(
        [asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))]
    )
    out = io.BytesIO()
    writer.write(out)
    assert _refused(out.getvalue()).code == "certificate_encrypted"


def test_another_security_handler_is_named_protected():
    error = _refused(damage.rights_management_protected())
    assert error.code == "protected"
    assert "保護" in error.message


def test_inflate_accepts_a_missing_end_marker_and_refuses_a_cut():
    data = b"q 1 0 0 rg 0 0 10 10 re f Q\n" * 100
    encoded = zlib.compress(data)
    assert inflate_without_end_marker(encoded) == data
    assert inflate_without_end_marker(encoded[:-4]) == data
    assert inflate_without_end_marker(encoded[:-1]) == data
    assert inflate_without_end_marker(encoded[: len(encoded) // 2]) is None
    assert inflate_without_end_marker(b"not zlib at all") is None
    assert inflate_without_end_marker(b"") is None
