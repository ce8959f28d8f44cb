"""Resource exhaustion (issue 10, finding 4): bombs, huge pages, too many pages, /UserUnit.

Every input is generated here. The bombs are a few hundred kilobytes that decode to hundreds
of megabytes; they are built piece by piece, so making one costs little memory.
"""

from __future__ import annotations

import binascii
import io
import zlib
from functools import cache

import pikepdf

from tests.pdf_corpus import kind
from tests.pdfs import make_pdf, with_page_geometry

MB = 1024 * 1024


@cache
def zeros_deflated(size: int, *, times: int = 1) -> bytes:
    """``size`` zero bytes, zlib-compressed ``times`` times over (each pass piece by piece)."""
    squeeze = zlib.compressobj(9)
    block = bytes(MB)
    parts = [squeeze.compress(block) for _ in range(size // MB)]
    parts.append(squeeze.compress(bytes(size % MB)))
    parts.append(squeeze.flush())
    data = b"".join(parts)
    for _ in range(times - 1):
        data = zlib.compress(data, 9)
    return data


def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    # Streams as they are: pikepdf must not decode (and so inflate) the bombs.
    pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none, compress_streams=False)
    return out.getvalue()


def with_image(
    data: bytes, raw: bytes, *, filters: list[str], width: int, height: int, count: int = 1
) -> bytes:
    """``data`` with ``count`` gray image XObjects of ``raw`` (already encoded with
    ``filters``) drawn small at the bottom of page 1, as a scanned stamp would be."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        page = pdf.pages[0]
        for number in range(count):
            image = pikepdf.Stream(pdf, raw)
            image.Filter = pikepdf.Array([pikepdf.Name(f) for f in filters])
            image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
            image.Width, image.Height = width, height
            image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceGray, 8
            name = page.add_resource(image, pikepdf.Name.XObject, prefix="Bomb")
            page.contents_add(f"q 20 0 0 20 {20 + 25 * number} 20 cm {name} Do Q\n".encode())
        return _save(pdf)


@kind(
    "flate_bomb",
    expect="refuse",
    refusal_code="stream_too_large",
    about="finding 4: a 0.4 MB file whose image is one Flate stream of 400 MB (zeros)",
)
def flate_bomb() -> bytes:
    return with_image(
        make_pdf(), zeros_deflated(400 * MB), filters=["/FlateDecode"], width=20480, height=20480
    )


@kind(
    "flate_bomb_twice",
    expect="refuse",
    refusal_code="stream_too_large",
    about="finding 4: a Flate bomb compressed again (/Filter [/FlateDecode /FlateDecode])",
)
def flate_bomb_twice() -> bytes:
    return with_image(
        make_pdf(),
        zeros_deflated(400 * MB, times=2),
        filters=["/FlateDecode", "/FlateDecode"],
        width=20480,
        height=20480,
    )


@kind(
    "hex_flate_bomb",
    expect="refuse",
    refusal_code="stream_too_large",
    about="finding 4: a Flate bomb behind ASCIIHexDecode (a chain qpdf decodes for the count)",
)
def hex_flate_bomb() -> bytes:
    return with_image(
        make_pdf(),
        binascii.hexlify(zeros_deflated(400 * MB)) + b">",
        filters=["/ASCIIHexDecode", "/FlateDecode"],
        width=20480,
        height=20480,
    )


@kind(
    "flate_bombs_many",
    expect="refuse",
    refusal_code="file_too_large_decoded",
    about="finding 4: six Flate streams of 200 MB each: each under the stream limit, not together",
)
def flate_bombs_many() -> bytes:
    return with_image(
        make_pdf(),
        zeros_deflated(200 * MB),
        filters=["/FlateDecode"],
        width=10240,
        height=20480,
        count=6,
    )


@kind(
    "inline_image_bomb",
    expect="refuse",
    refusal_code="stream_too_large",
    about="finding 4: an inline image (BI … ID … EI, /F /Fl) in the page content of 300 MB",
)
def inline_image_bomb() -> bytes:
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        data = zeros_deflated(300 * MB)
        pdf.pages[0].contents_add(
            b"q 20 0 0 20 20 20 cm BI /W 16384 /H 19200 /BPC 8 /CS /G /F /Fl ID\n"
            + data
            + b"\nEI Q\n"
        )
        return _save(pdf)


@kind(
    "page_240x14400",
    about="finding 4: a page 240 x 14,400 pt (PDF's own limit on a side): accepted",
)
def page_240x14400() -> bytes:
    return with_page_geometry(make_pdf(), mediabox=[0, 0, 240, 14400])


@kind(
    "page_too_wide",
    expect="refuse",
    refusal_code="page_too_large",
    about="finding 4: a page 20,000 x 1,000 pt, wider than PDF allows (ended in MemoryError)",
)
def page_too_wide() -> bytes:
    return with_page_geometry(make_pdf(), mediabox=[0, 0, 20000, 1000])


@kind(
    "user_unit_a4_double",
    about="finding 4: an A4 page with /UserUnit 2 (A2 on paper, 1,190 pt): accepted",
)
def user_unit_a4_double() -> bytes:
    return with_page_geometry(make_pdf(), user_unit=2)


@kind(
    "user_unit_too_large",
    expect="refuse",
    refusal_code="page_too_large",
    about="finding 4: 1,000 x 1,000 units with /UserUnit 20: 20,000 pt on paper",
)
def user_unit_too_large() -> bytes:
    return with_page_geometry(make_pdf(), mediabox=[0, 0, 1000, 1000], user_unit=20)


@kind(
    "too_many_pages",
    expect="refuse",
    refusal_code="too_many_pages",
    about="finding 4: 2,001 pages (each drawing one shared content stream)",
)
def too_many_pages() -> bytes:
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        first = pdf.pages[0]
        for _ in range(2000):
            pdf.pages.append(first)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()
