"""Corpus kinds of scanned contracts: pages that are nothing but an image, in the encodings
scanners and multifunction printers write (JBIG2, CCITT Group 4, a large JPEG), and a scan on a
page with /UserUnit.

The scans are drawn here (PIL, keiyaku's bundled font), encoded here, and wrapped into a page
by hand: no scanner's file and no outside encoder. JBIG2 has no encoder in Python or Debian
(jbig2enc is not packaged), so the JBIG2 stream is built segment by segment (ITU-T T.88): a
page-information segment and one immediate lossless generic region whose data is MMR-coded,
which is CCITT T.6 (Group 4), what Pillow's libtiff writes.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from functools import cache
from importlib import resources

import pikepdf
from PIL import Image, ImageDraw, ImageFont, TiffImagePlugin

from tests.pdf_corpus import kind

_A4 = (595.28, 841.89)
_LINES = (
    "工事請負契約書",
    "第1条（目的）発注者及び受注者は、頭書の工事の請負契約を締結する。",
    "第2条（請負代金）請負代金額は、金1,234,567円とする。",
    "第3条（工期）令和8年4月1日から令和8年9月30日までとする。",
    "発注者 東京都千代田区千代田1-1 テスト市長 ㊞",
)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    path = resources.files("keiyaku.fonts").joinpath("ipaexg.ttf")
    with resources.as_file(path) as file:
        return ImageFont.truetype(str(file), size)


def _scanned_page(width_px: int, mode: str) -> Image.Image:
    """An A4 page as a scanner sees it: black text on white, ``width_px`` wide."""
    height_px = round(width_px * _A4[1] / _A4[0])
    image = Image.new(mode, (width_px, height_px), 255 if mode != "RGB" else (255, 255, 255))
    draw = ImageDraw.Draw(image)
    unit = width_px / 60
    draw.text(
        (width_px * 0.32, unit * 5),
        _LINES[0],
        fill=0 if mode != "RGB" else (0, 0, 0),
        font=_font(round(unit * 2.2)),
    )
    for number, line in enumerate(_LINES[1:], start=1):
        draw.text(
            (unit * 5, unit * (9 + 3 * number)),
            line,
            fill=0 if mode != "RGB" else (20, 20, 20),
            font=_font(round(unit * 1.2)),
        )
    # A frame and a seal, as on a printed form.
    draw.rectangle(
        (unit * 3, unit * 3, width_px - unit * 3, height_px - unit * 3),
        outline=0 if mode != "RGB" else (0, 0, 0),
        width=max(1, round(unit / 6)),
    )
    return image


def _image_page(
    build: Callable[[pikepdf.Pdf], pikepdf.Stream],
    *,
    user_unit: float | None = None,
    page_size: tuple[float, float] = _A4,
) -> bytes:
    pdf = pikepdf.new()
    image = build(pdf)
    width, height = page_size
    page = pdf.add_blank_page(page_size=page_size)
    page.add_resource(image, pikepdf.Name.XObject, pikepdf.Name.Scan)
    page.obj.Contents = pdf.make_stream(b"q %.2f 0 0 %.2f 0 0 cm /Scan Do Q" % (width, height))
    if user_unit is not None:
        page.obj.UserUnit = user_unit
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True, compress_streams=True)
    return out.getvalue()


def _g4(image: Image.Image) -> bytes:
    """The CCITT T.6 data of a bilevel image (1 = white, as PDF's default /BlackIs1 false
    expects): the single strip of a Group 4 TIFF that Pillow's libtiff writes."""
    out = io.BytesIO()
    image.convert("1").save(
        out,
        format="TIFF",
        compression="group4",
        tiffinfo={TiffImagePlugin.ROWSPERSTRIP: image.height},
    )
    out.seek(0)
    with Image.open(out) as tiff:
        offsets = tiff.tag_v2[TiffImagePlugin.STRIPOFFSETS]
        counts = tiff.tag_v2[TiffImagePlugin.STRIPBYTECOUNTS]
        photometric = tiff.tag_v2[TiffImagePlugin.PHOTOMETRIC_INTERPRETATION]
    offsets = offsets if isinstance(offsets, tuple) else (offsets,)
    counts = counts if isinstance(counts, tuple) else (counts,)
    if len(offsets) != 1:
        raise RuntimeError("expected one strip")
    # libtiff codes 0 bits as white runs whatever the photometric; Pillow's mode "1" is
    # min-is-black (0 = black), so its coded "white" runs are black pixels: keep that in mind
    # with /BlackIs1 (see the callers).
    if photometric != 1:
        raise RuntimeError(f"unexpected photometric {photometric}")
    data = out.getvalue()
    return data[offsets[0] : offsets[0] + counts[0]]


@kind(
    "scan_ccitt_g4",
    about="a scanned page: one bilevel image in CCITT Group 4 (/CCITTFaxDecode K -1), 300 dpi",
)
def scan_ccitt_g4() -> bytes:
    scan = _scanned_page(2480, "L").point(lambda p: 255 if p > 128 else 0).convert("1")

    def build(pdf: pikepdf.Pdf) -> pikepdf.Stream:
        image = pdf.make_stream(_g4(scan))
        image.Type = pikepdf.Name.XObject
        image.Subtype = pikepdf.Name.Image
        image.Width, image.Height = scan.size
        image.ColorSpace = pikepdf.Name.DeviceGray
        image.BitsPerComponent = 1
        image.Filter = pikepdf.Name.CCITTFaxDecode
        # Pillow's min-is-black strip codes black pixels as "white" runs: BlackIs1 true makes
        # them black again.
        image.DecodeParms = pikepdf.Dictionary(
            K=-1, Columns=scan.width, Rows=scan.height, BlackIs1=True
        )
        return image

    return _image_page(build)


def _segment(number: int, kind_: int, data: bytes) -> bytes:
    """One JBIG2 segment (T.88 §7.2): header with no referred-to segments, page 1."""
    flags = kind_  # page association in one byte, not deferred
    referred = 0  # no referred-to segments, no retain bits
    return struct.pack(">IBBBI", number, flags, referred, 1, len(data)) + data


def _jbig2_generic_mmr(image: Image.Image) -> bytes:
    """An embedded JBIG2 stream (no file header, as PDF's /JBIG2Decode takes it): page
    information, then one immediate lossless generic region, MMR-coded, covering the page.

    JBIG2 pixels are 1 = black. The MMR data is T.6 with runs as coded, so the inverted image
    (black = 1 in JBIG2 terms is white = 0 in the T.6 coding of a min-is-white bitmap) is
    coded: see `_g4`.
    """
    width, height = image.size
    # Page information (§7.4.8): width, height, resolutions (unknown), flags (default pixel 0,
    # lossless), no striping.
    page_info = struct.pack(">IIIIBH", width, height, 0, 0, 0, 0)
    # Region segment information (§7.4.1) + generic region flags (§7.4.6.2): MMR = 1.
    region_info = struct.pack(">IIIIB", width, height, 0, 0, 0)
    # T.6's "white" runs must be JBIG2's 0 (white) pixels. _g4 codes Pillow's 0 (black) pixels
    # as white runs, so it is given the inverted image.
    inverted = image.convert("L").point(lambda p: 255 - p).convert("1")
    mmr = _g4(inverted)
    region = region_info + bytes([0x01]) + mmr
    # PDF 2.0 §8.9.5.6 (JBIG2Decode): no file header, no end-of-page or end-of-file segment.
    return _segment(0, 48, page_info) + _segment(1, 39, region)


@kind(
    "scan_jbig2",
    about="a scanned page: one bilevel image in JBIG2 (generic region, MMR), 300 dpi",
)
def scan_jbig2() -> bytes:
    scan = _scanned_page(2480, "L").point(lambda p: 255 if p > 128 else 0).convert("1")

    def build(pdf: pikepdf.Pdf) -> pikepdf.Stream:
        image = pdf.make_stream(b"")
        image.write(_jbig2_generic_mmr(scan), filter=pikepdf.Name.JBIG2Decode)
        image.Type = pikepdf.Name.XObject
        image.Subtype = pikepdf.Name.Image
        image.Width, image.Height = scan.size
        image.ColorSpace = pikepdf.Name.DeviceGray
        image.BitsPerComponent = 1
        return image

    return _image_page(build)


def _jpeg_page(width_px: int, *, user_unit: float | None = None) -> bytes:
    scan = _scanned_page(width_px, "RGB")
    out = io.BytesIO()
    scan.save(out, format="JPEG", quality=80)

    def build(pdf: pikepdf.Pdf) -> pikepdf.Stream:
        image = pdf.make_stream(b"")
        image.write(out.getvalue(), filter=pikepdf.Name.DCTDecode)
        image.Type = pikepdf.Name.XObject
        image.Subtype = pikepdf.Name.Image
        image.Width, image.Height = scan.size
        image.ColorSpace = pikepdf.Name.DeviceRGB
        image.BitsPerComponent = 8
        return image

    page_size = _A4 if user_unit is None else (_A4[0] / user_unit, _A4[1] / user_unit)
    return _image_page(build, user_unit=user_unit, page_size=page_size)


@kind(
    "scan_large_jpeg",
    about="a scanned page: one 4000 x 5657 px colour JPEG (DCTDecode), about 480 dpi on A4",
)
def scan_large_jpeg() -> bytes:
    return _jpeg_page(4000)


@kind(
    "user_unit_scan",
    about="a scanned A4 page described in 2-point units (/UserUnit 2, MediaBox 297.64 x 420.95)",
)
def user_unit_scan() -> bytes:
    return _jpeg_page(1240, user_unit=2.0)
