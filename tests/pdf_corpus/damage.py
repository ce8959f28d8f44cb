"""Damage, real and harmless, and encryption that is not a password (issue 10, finding 10).

Harmless: incremental updates whose Flate streams end without zlib's Adler-32 end marker (as
Acrobat Reader and macOS Preview save them), a ``stream`` keyword followed by CR only and a
wrong /Length in a file whose cross-reference table qpdf rebuilds. Real: a stream cut inside its
deflate data, an object lost at the end of a cut file. Protected: certificate (public-key)
encryption and a rights-management handler, each with its own reason.
"""

from __future__ import annotations

import hashlib
import io
import zlib

import pikepdf

from tests.pdf_corpus import kind
from tests.pdfs import make_pdf

# A page's extra drawing: a red square, which a reader must show.
RED_SQUARE = b"q 1 0 0 rg 400 650 80 80 re f Q\n"


def append_revision(data: bytes, objects: dict[int, bytes], *, xref_shift: int = 0) -> bytes:
    """``data`` with one incremental update holding ``objects`` (number → the bytes between
    ``N 0 obj`` and ``endobj``), a classic xref section and a trailer with /Prev.

    ``xref_shift`` moves every offset of the new section by that many bytes, as a writer that
    miscounts does; qpdf then rebuilds the cross-reference table.
    """
    with pikepdf.open(io.BytesIO(data)) as pdf:
        size = int(pdf.trailer.Size)
        root = pdf.trailer.Root.objgen[0]
    prev = int(data[data.rindex(b"startxref") + len(b"startxref") :].split()[0])
    out = bytearray(data)
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n"
    for number in sorted(offsets):
        out += b"%d 1\n%010d 00000 n \n" % (number, offsets[number] + xref_shift)
    size = max(size, max(offsets) + 1)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\n" % (size, root, prev)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def flate_stream(
    data: bytes, *, cut: int = 0, keyword: bytes = b"stream\n", extra_length: int = 0
) -> bytes:
    """A Flate stream object's body: ``data`` zlib-compressed with its last ``cut`` bytes gone,
    the ``keyword`` line as given and /Length off by ``extra_length``."""
    encoded = zlib.compress(data, 9)
    encoded = encoded[: len(encoded) - cut]
    length = len(encoded) + extra_length
    return b"<< /Length %d /Filter /FlateDecode >>\n" % length + keyword + encoded + b"\nendstream"


def _page(data: bytes, index: int = 0) -> tuple[int, bytes, int]:
    """(object number, unparsed dictionary, first free object number) of page ``index``."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        page = pdf.pages[index].obj
        return page.objgen[0], page.unparse(resolved=True), int(pdf.trailer.Size)


def drawing_added(stream_body: bytes, *, xref_shift: int = 0) -> bytes:
    """A 2-page contract whose page 1 gets a second content stream in an incremental update,
    as a form filled in Acrobat Reader gets its field appearances."""
    base = make_pdf(pages=2)
    number, page, free = _page(base)
    contents = page.split(b"/Contents ")[1].split(b" R")[0] + b" R"
    page = page.replace(b"/Contents " + contents, b"/Contents [ %s %d 0 R ]" % (contents, free))
    return append_revision(base, {free: stream_body, number: page}, xref_shift=xref_shift)


@kind(
    "flate_without_end_marker_acrobat",
    about="Incremental update (a form filled in Acrobat Reader) whose new Flate stream ends "
    "after its last deflate block without the Adler-32 end marker (finding 10)",
)
def flate_without_end_marker_acrobat() -> bytes:
    return drawing_added(flate_stream(RED_SQUARE * 30, cut=4))


@kind(
    "flate_without_end_marker_preview",
    about="A square annotation added in macOS Preview: its appearance stream, in an "
    "incremental update, lacks two bytes of the Adler-32 end marker (finding 10)",
)
def flate_without_end_marker_preview() -> bytes:
    base = make_pdf(pages=1)
    number, page, free = _page(base)
    appearance = flate_stream(b"1 0 0 RG 2 w 1 1 98 98 re S\n" * 10, cut=2).replace(
        b"<< ", b"<< /Type /XObject /Subtype /Form /BBox [0 0 100 100] ", 1
    )
    annot = (
        b"<< /Type /Annot /Subtype /Square /Rect [100 100 200 200] /C [1 0 0] /F 4 "
        b"/T (Preview) /AP << /N %d 0 R >> /P %d 0 R >>" % (free, number)
    )
    page = page.replace(b"/Type /Page", b"/Annots [ %d 0 R ] /Type /Page" % (free + 1), 1)
    return append_revision(base, {free: appearance, free + 1: annot, number: page})


@kind(
    "stream_keyword_cr_only",
    about="A content stream whose `stream` keyword is followed by CR only, in an update whose "
    "xref offsets are off so qpdf rebuilds the table (finding 10)",
)
def stream_keyword_cr_only() -> bytes:
    return drawing_added(flate_stream(RED_SQUARE, keyword=b"stream\r"), xref_shift=3)


@kind(
    "recovered_stream_length",
    about="A content stream whose /Length is 40 bytes too long (qpdf finds `endstream`), in an "
    "update whose xref offsets are off (finding 10)",
)
def recovered_stream_length() -> bytes:
    return drawing_added(flate_stream(RED_SQUARE, extra_length=40), xref_shift=3)


@kind(
    "flate_cut_inside_deflate_data",
    about="Incremental update whose Flate stream is cut inside its deflate data: truly broken",
    expect="refuse",
    refusal_code="corrupt",
)
def flate_cut_inside_deflate_data() -> bytes:
    body = bytes(range(256)) * 40  # incompressible enough to span bytes after the cut
    encoded_length = len(zlib.compress(body, 9))
    return drawing_added(flate_stream(body, cut=encoded_length // 2))


@kind(
    "object_lost_at_the_end",
    about="A linearized contract cut 1 % before its end: every page is there, but an object "
    "the document refers to (its information dictionary) is lost",
    expect="refuse",
    refusal_code="corrupt",
)
def object_lost_at_the_end() -> bytes:
    with pikepdf.open(io.BytesIO(make_pdf(pages=6))) as pdf:
        out = io.BytesIO()
        pdf.save(out, linearize=True, deterministic_id=True)
    data = out.getvalue()
    return data[: int(len(data) * 0.99)]


@kind(
    "page_missing_from_file",
    about="The page tree lists 3 pages but its second kid is an object the file lacks; qpdf "
    "drops it from the tree silently as it opens the file (finding 10)",
    expect="refuse",
    refusal_code="corrupt",
)
def page_missing_from_file() -> bytes:
    data = make_pdf(pages=3)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        second = pdf.pages[1].obj.objgen[0]
        absent = int(pdf.trailer.Size) + 80  # two digits, never defined
    start = data.index(b"/Kids [ ")
    end = data.index(b"]", start)
    kids = data[start:end].replace(b"[ ", b"[", 1).replace(b" %d 0 R" % second, b" %d 0 R" % absent)
    assert len(kids) == end - start  # same length: no offset moves, the xref stays valid
    return data[:start] + kids + data[end:]


# Encryption other than a password ----------------------------------------------------------


def _aes_object_key(file_key: bytes, number: int, generation: int) -> bytes:
    """The AESV2 key of one object (ISO 32000-1 §7.6.2, algorithm 1)."""
    salt = number.to_bytes(3, "little") + generation.to_bytes(2, "little") + b"sAlT"
    return hashlib.md5(file_key + salt, usedforsecurity=False).digest()


def _aes_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def _recipients_cms() -> bytes:
    """A CMS EnvelopedData for one recipient (a made-up certificate issuer and serial), as a
    PubSec /Recipients entry holds; its encrypted seed is fixed bytes, never decrypted here."""
    from asn1crypto import cms, x509

    encrypted_seed = hashlib.sha512(b"seed").digest() * 4  # 256 bytes, as RSA-2048 gives
    recipient = cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": x509.Name.build({"common_name": "市役所 受信者"}),
                            "serial_number": 4242,
                        }
                    )
                }
            ),
            "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
            "encrypted_key": encrypted_seed,
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [cms.RecipientInfo({"ktri": recipient})],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": "aes256_cbc",
                    "parameters": b"\x01" * 16,
                },
                "encrypted_content": hashlib.sha256(b"content").digest() * 2,
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()


def encrypted_with(encrypt: bytes) -> bytes:
    """A contract whose streams are AES-128 encrypted with a fixed file key (§7.6.2) and whose
    trailer carries ``encrypt`` as its /Encrypt dictionary. pikepdf writes only password
    encryption, so the streams are encrypted here and the dictionary written by hand."""
    file_key = hashlib.sha256(b"keiyaku test file key").digest()[:16]
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        del pdf.trailer["/Info"]  # its strings would need encrypting too
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                number, generation = obj.objgen
                iv = hashlib.md5(b"iv%d" % number, usedforsecurity=False).digest()
                key = _aes_object_key(file_key, number, generation)
                obj.write(
                    _aes_cbc(key, iv, obj.read_raw_bytes()),
                    filter=obj.get("/Filter"),
                    decode_parms=obj.get("/DecodeParms"),
                )
        out = io.BytesIO()
        pdf.save(
            out,
            deterministic_id=True,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
        )
    data = out.getvalue()
    # The trailer follows the xref table, so adding to it moves no object.
    marker = data.rindex(b"trailer <<")
    return data[:marker] + b"trailer << /Encrypt " + encrypt + data[marker + len(b"trailer <<") :]


@kind(
    "certificate_encrypted",
    about="Encrypted for a recipient's certificate (/Filter /Adobe.PubSec, adbe.pkcs7.s5, "
    "AESV2): protected, not damaged (finding 10)",
    expect="refuse",
    refusal_code="certificate_encrypted",
)
def certificate_encrypted() -> bytes:
    recipients = _recipients_cms().hex().encode()
    return encrypted_with(
        b"<< /Filter /Adobe.PubSec /SubFilter /adbe.pkcs7.s5 /V 4 /Length 128 "
        b"/CF << /DefaultCryptFilter << /CFM /AESV2 /Length 16 /Recipients [ <"
        + recipients
        + b"> ] >> >> /StmF /DefaultCryptFilter /StrF /DefaultCryptFilter >> "
    )


@kind(
    "rights_management_protected",
    about="Protected by a document rights-management server's security handler "
    "(/Filter /Adobe.APS): protected, not damaged",
    expect="refuse",
    refusal_code="protected",
)
def rights_management_protected() -> bytes:
    return encrypted_with(
        b"<< /Filter /Adobe.APS /V 4 /Length 128 /CF << /StdCF << /CFM /AESV2 >> >> "
        b"/StmF /StdCF /StrF /StdCF /EncryptMetadata true >> "
    )
