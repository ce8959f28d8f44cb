"""Test PDFs built in memory: realistic contracts, and the awkward uploads ingest must refuse.

Import these instead of keeping binary fixtures in the tree.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import tempfile
import zlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pikepdf
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from keiyaku.fonts import register_reportlab_font

if TYPE_CHECKING:
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko.sign.timestamps import TimeStamper

_CLAUSES = (
    "第1条（目的）発注者及び受注者は、この契約書に基づき、頭書の工事の請負契約を締結する。",
    "第2条（請負代金）請負代金額は、金1,234,567円（うち消費税額及び地方消費税額を含む。）とする。",
    "第3条（工期）工期は、令和8年4月1日から令和8年9月30日までとする。",
    "第4条（契約保証金）受注者は、契約保証金として請負代金額の10分の1以上を納付する。",
    "第5条（権利義務の譲渡等）受注者は、この契約により生ずる権利又は義務を第三者に譲渡してはならない。",
    "第6条（検査及び引渡し）受注者は、工事が完成したときは、その旨を発注者に通知しなければならない。",
    "発注者 住所 〒100-0001 東京都千代田区千代田1-1 髙橋市長 ㈱ ①②③",
)


def make_pdf(*, pages: int = 1, text: str = "工事請負契約書", pad_bytes: int = 0) -> bytes:
    """An A4 contract: ``text`` as heading and numbered clauses on each page, font embedded.

    ``pad_bytes`` > 0 adds an incompressible image XObject to page 1's resources (not drawn, so
    rendering stays fast) so that the file is at least that many bytes. 20 MB takes well under 1 s.
    """
    font = register_reportlab_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True, initialFontName=font)
    c.setTitle(text)
    width, height = A4
    for page in range(1, pages + 1):
        c.setFont(font, 18)
        c.drawCentredString(width / 2, height - 30 * mm, text)
        c.setFont(font, 10)
        y = height - 50 * mm
        for clause in _CLAUSES:
            c.drawString(20 * mm, y, clause)
            y -= 8 * mm
        c.drawRightString(width - 20 * mm, 15 * mm, f"{page} / {pages}")
        c.showPage()
    c.save()
    data = buf.getvalue()
    if pad_bytes <= len(data):
        return data
    return _pad(data, pad_bytes - len(data))


def _pad(data: bytes, extra: int) -> bytes:
    width = 1024
    height = max(1, -(-extra // width))
    raw = os.urandom(width * height)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        image = pikepdf.Stream(pdf, b"")
        # Already Flate-"compressed" at level 0 (stored): pikepdf writes it as is, fast.
        image.write(zlib.compress(raw, 0), filter=pikepdf.Name.FlateDecode)
        image.Type = pikepdf.Name.XObject
        image.Subtype = pikepdf.Name.Image
        image.Width = width
        image.Height = height
        image.ColorSpace = pikepdf.Name.DeviceGray
        image.BitsPerComponent = 8
        pdf.pages[0].add_resource(image, pikepdf.Name.XObject, pikepdf.Name.ScanPad)
        out = io.BytesIO()
        pdf.save(out, compress_streams=False)
    return out.getvalue()


_SCAN_SIZE = (1654, 2339)  # A4 at 200 dpi, as an office scanner files it


def _scanned_page_jpeg(seed: int) -> bytes:
    """One grey A4 page as a scanner makes it: paper noise, dark lines of "text", JPEG q85
    (about 0.75 MB, incompressible like a real scan)."""
    import random

    from PIL import Image, ImageDraw

    width, height = _SCAN_SIZE
    rng = random.Random(seed)
    noise = Image.frombytes(
        "L", (width // 2, height // 2), rng.randbytes((width // 2) * (height // 2))
    ).resize((width, height))
    page = Image.new("L", (width, height), 245)
    draw = ImageDraw.Draw(page)
    for y in range(200, height - 200, 60):
        draw.rectangle([150, y, width - 150 - rng.randrange(400), y + 22], fill=40)
    out = io.BytesIO()
    Image.blend(page, noise, 0.12).save(out, "JPEG", quality=85)
    return out.getvalue()


def make_scanned_pdf(*, target_bytes: int, seed: int = 0) -> bytes:
    """A contract as offices upload large ones: a typed first page (`make_pdf`), then scanned
    pages (one DCT image each, 200 dpi grey) until the file is about ``target_bytes`` long.
    ``seed`` varies the scans. 50 MB (about 67 pages) takes a few seconds."""
    first = make_pdf(text="工事請負契約書（写）")
    with pikepdf.open(io.BytesIO(first)) as pdf:
        width, height = _SCAN_SIZE
        size, number = len(first), 0
        while size < target_bytes:
            jpeg = _scanned_page_jpeg(seed * 100_000 + number)
            image = pikepdf.Stream(pdf, jpeg)
            image.Type = pikepdf.Name.XObject
            image.Subtype = pikepdf.Name.Image
            image.Width, image.Height = width, height
            image.ColorSpace = pikepdf.Name.DeviceGray
            image.BitsPerComponent = 8
            image.Filter = pikepdf.Name.DCTDecode
            page = pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, float(A4[0]), float(A4[1])],
                    Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Scan=image)),
                    Contents=pdf.make_stream(
                        f"q {A4[0]:.2f} 0 0 {A4[1]:.2f} 0 0 cm /Scan Do Q".encode()
                    ),
                )
            )
            pdf.pages.append(page)
            size += len(jpeg) + 200
            number += 1
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


USER_PASSWORD = "open-sesame"
OWNER_PASSWORD = "owner-secret"


def make_encrypted_pdf() -> bytes:
    """Needs a password to open (user password USER_PASSWORD)."""
    return _encrypt(make_pdf(), user=USER_PASSWORD, owner=OWNER_PASSWORD)


def make_owner_password_only_pdf() -> bytes:
    """Encrypted with an owner password only: opens without a password, restricts editing."""
    return _encrypt(make_pdf(pages=2), user="", owner=OWNER_PASSWORD)


def _encrypt(data: bytes, *, user: str, owner: str) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(
            out,
            encryption=pikepdf.Encryption(
                user=user,
                owner=owner,
                R=6,
                allow=pikepdf.Permissions(modify_other=False, modify_annotation=False),
            ),
        )
    return out.getvalue()


def truncated_pdf() -> bytes:
    """A three-page contract cut in half (e.g. an interrupted upload)."""
    data = make_pdf(pages=3)
    return data[: len(data) // 2]


def beyond_repair_pdf() -> bytes:
    """The header and a few bytes: no page can be recovered from this."""
    return make_pdf()[:64]


@cache
def _self_signed() -> tuple[bytes, bytes]:
    """A throwaway RSA key and self-signed certificate, DER (key as PKCS#8)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "テスト署名者")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_der, cert.public_bytes(serialization.Encoding.DER)


def make_test_signer() -> SimpleSigner:
    """A pyHanko signer with a throwaway self-signed certificate (the same one per process).

    Its certificate, as an asn1crypto object, is ``signer.signing_cert`` (use it as trust root).
    """
    from asn1crypto import keys, x509
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_der, cert_der = _self_signed()
    cert = x509.Certificate.load(cert_der)
    return signers.SimpleSigner(
        signing_cert=cert,
        signing_key=keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([cert]),
    )


def sign_incrementally(pdf: bytes, *, field_name: str = "Signature1") -> bytes:
    """Append one signature revision with pyHanko, as the real engine will."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.sign_pdf(
        writer,
        signers.PdfSignatureMetadata(field_name=field_name),
        signer=make_test_signer(),
    )
    return out.getvalue()


def make_signed_pdf() -> bytes:
    """A contract already carrying a (self-signed) PAdES signature made by pyHanko."""
    return sign_incrementally(make_pdf())


def document_timestamped(pdf: bytes, *, timestamper: TimeStamper) -> bytes:
    """``pdf`` with one document timestamp appended (pyHanko), and nothing else: no signature."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    out = io.BytesIO()
    PdfTimeStamper(timestamper).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), "sha256", output=out
    )
    return out.getvalue()


def annotated_later(pdf: bytes) -> bytes:
    """``pdf`` with one incremental revision that adds a note (text annotation) to page 1,
    as any PDF editor would after the last signature."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    note = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (50, 50, 70, 70)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("金額を変更"),
            }
        )
    )
    annots = page.get("/Annots")
    if annots is None:
        page[generic.NameObject("/Annots")] = generic.ArrayObject([note])
    else:
        annots.get_object().append(note)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_hybrid_xref_pdf() -> bytes:
    """A hand-built hybrid-reference file (PDF 1.5 §7.5.8.4).

    The classic xref table lists the uncompressed objects; its trailer's /XRefStm points to an
    xref stream that lists the page and its contents, which live in an object stream.
    """
    content = b"BT /F1 24 Tf 72 720 Td (Hybrid xref contract) Tj ET"
    # Objects 4 (page) and 5 (font) are compressed in object stream 6.
    in_objstm = {
        4: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    header_parts, body = [], b""
    for num, obj in in_objstm.items():
        header_parts.append(f"{num} {len(body)}".encode())
        body += obj + b"\n"
    objstm_header = b" ".join(header_parts) + b"\n"

    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}

    def add(num: int, obj: bytes) -> None:
        offsets[num] = len(out)
        out.extend(f"{num} 0 obj\n".encode() + obj + b"\nendobj\n")

    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(2, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>")
    add(3, b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objstm_data = objstm_header + body
    add(
        6,
        b"<< /Type /ObjStm /N 2 /First %d /Length %d >>\nstream\n"
        % (len(objstm_header), len(objstm_data))
        + objstm_data
        + b"\nendstream",
    )
    # Xref stream (object 7) covering objects 4 and 5: type 2 entries (in object stream 6).
    rows = b"".join(bytes([2]) + (6).to_bytes(2, "big") + bytes([i]) for i in range(2))
    xrefstm_offset = len(out)
    add(
        7,
        b"<< /Type /XRef /Size 8 /Index [4 2] /W [1 2 1] /Length %d >>\nstream\n" % len(rows)
        + rows
        + b"\nendstream",
    )
    offsets[7] = xrefstm_offset

    xref_offset = len(out)
    # The classic table leaves out the compressed objects (subsections 0-3 and 6-7): readers
    # without xref-stream support see a file with no page, readers with it find them via /XRefStm.
    lines = [b"xref\n", b"0 4\n", b"0000000000 65535 f \n"]
    lines += [b"%010d 00000 n \n" % offsets[num] for num in (1, 2, 3)]
    lines += [b"6 2\n"] + [b"%010d 00000 n \n" % offsets[num] for num in (6, 7)]
    out.extend(b"".join(lines))
    out.extend(
        b"trailer\n<< /Size 8 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n"
        % (xrefstm_offset, xref_offset)
    )
    return bytes(out)


# Outside tools (poppler, qpdf) on in-memory PDFs -------------------------------------------


def _run_on(pdf: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "in.pdf")
        path.write_bytes(pdf)
        return subprocess.run(
            [a if a != "{pdf}" else str(path) for a in args],
            capture_output=True,
            text=True,
            check=False,
        )


def pdftotext(pdf: bytes, *, first: int | None = None, last: int | None = None) -> str:
    """poppler's text of the given pages (1-based, inclusive), raw reading order."""
    pages: list[str] = []
    if first is not None:
        pages += ["-f", str(first)]
    if last is not None:
        pages += ["-l", str(last)]
    result = _run_on(pdf, "pdftotext", "-raw", "-enc", "UTF-8", *pages, "{pdf}", "-")
    assert result.returncode == 0, result.stderr
    return result.stdout


def pdffonts(pdf: bytes) -> list[tuple[str, bool]]:
    """(font name, embedded?) for every font poppler finds."""
    result = _run_on(pdf, "pdffonts", "{pdf}")
    assert result.returncode == 0, result.stderr
    fonts = []
    for line in result.stdout.splitlines()[2:]:
        # Columns: name type... encoding emb sub uni object ID; count from the right.
        parts = line.split()
        fonts.append((parts[0], parts[-5] == "yes"))
    return fonts


def qpdf_check(pdf: bytes) -> subprocess.CompletedProcess[str]:
    """``qpdf --check``: returncode 0 and no warnings means clean."""
    return _run_on(pdf, "qpdf", "--check", "{pdf}")


def pdfsig(pdf: bytes) -> str:
    """poppler's signature report (an outside validator)."""
    return _run_on(pdf, "pdfsig", "{pdf}").stdout


def with_page_geometry(
    data: bytes,
    *,
    mediabox: list[float] | None = None,
    cropbox: list[float] | None = None,
    rotate: int | None = None,
    user_unit: float | None = None,
    inherited: bool = False,
) -> bytes:
    """``data`` with every page's /MediaBox, /CropBox, /Rotate and /UserUnit set as given.

    ``inherited``: /MediaBox and /Rotate go on the page tree's root instead, and the pages
    lose their own, so readers must inherit them (/CropBox and /UserUnit stay on the page).
    """
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            node = page.obj
            if inherited:
                for key in ("/MediaBox", "/Rotate"):
                    if key in node:
                        del node[key]
                target = pdf.Root.Pages
            else:
                target = node
            if mediabox is not None:
                target.MediaBox = pikepdf.Array(mediabox)
            if rotate is not None:
                target.Rotate = rotate
            if cropbox is not None:
                node.CropBox = pikepdf.Array(cropbox)
            if user_unit is not None:
                node.UserUnit = user_unit
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()
