"""Page images and page geometry with pypdfium2, for the viewer and box placement.

Sizes are those of `keiyaku.signing.geometry.visible_page` (the crop box clipped to the media
box, width and height swapped for /Rotate 90 or 270); PDFium draws exactly that part of the
page. PDFium is not thread-safe, so every call holds one process-wide lock; keiyaku uses PDFium
through this module only.

Fonts (issue 10, finding 3: what the party sees must be what is signed): a font a PDF names but
does not embed is drawn with a font keiyaku ships, never one the host happens to have. PDFium
asks its "system font info" for such fonts; pypdfium2 initialises PDFium with the default one,
which reads /usr/share/fonts and the other host folders. At import this module installs its own
(`_ShippedFonts`, pypdfium2's `PdfSysfontBase`), which knows only IPAex Mincho and IPAex Gothic
from `keiyaku.fonts`: Mincho for Japanese/CJK fonts with a serif or 明朝 name, Gothic for the
other CJK ones, and none for Latin fonts, which PDFium then draws with the standard fonts built
into it. A page whose text still draws nothing is refused at ingest (`require_text_drawn`).
"""

from __future__ import annotations

import ctypes
import io
import math
import re
import struct
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.conf import settings
from PIL import Image

from keiyaku.fonts import FONT_NAME, FONT_PATH, MINCHO_NAME, MINCHO_PATH
from keiyaku.signing.geometry import visible_pages

_PDFIUM_LOCK = threading.Lock()

DEFAULT_MAX_RENDER_PIXELS = 12_000_000
"""Pixels in one page image unless ``settings.KEIYAKU_MAX_RENDER_PIXELS`` says otherwise: an A4
page 2,900 px wide (about 350 dpi), 36 MB as a bitmap (issue 10, finding 4)."""


# --- fonts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Face:
    name: bytes
    data: ctypes.Array[ctypes.c_char]
    """The whole font file, in memory for PDFium to copy from."""
    tables: dict[int, tuple[int, int]]
    """sfnt table tag (big-endian uint32) → (offset, length) in ``data``."""


_GOTHIC, _MINCHO = 1, 2  # the handles PDFium gets back from MapFont / GetFont

# Names of Japanese, Chinese and Korean fonts, as bytes (often Shift_JIS). A Gothic (sans) name:
# "MS-PGothic", "HeiseiKakuGo-W5", "KozGoPr6N", "ＭＳ ゴシック"; a Mincho (serif) name:
# "MS-Mincho", "HeiseiMin-W3", "KozMinPr6N", "Ryumin-Light", "ＭＳ 明朝". Gothic is checked first.
_JA_GOTHIC = "ゴシック"
_JA_MINCHO = "明朝"


def _name_pattern(words: bytes, *japanese: str) -> re.Pattern[bytes]:
    encoded = [re.escape(w.encode(enc)) for w in japanese for enc in ("utf-8", "shift_jis")]
    return re.compile(b"|".join([words, *encoded]), re.IGNORECASE)


_GOTHIC_NAMES = _name_pattern(
    rb"gothic|kakugo|marugo|kozgo|yugo|meiryo|hiragino ?(kaku|sans)|simhei|heiti|gulim|dotum",
    _JA_GOTHIC,
)
_MINCHO_NAMES = _name_pattern(
    rb"mincho|heiseimin|kozmin|ryumin|yumin|hiragino ?(min|serif)|simsun|songti|mingliu|batang",
    _JA_MINCHO,
)
_CJK_CHARSETS = frozenset(
    {
        pdfium_c.FXFONT_SHIFTJIS_CHARSET,
        pdfium_c.FXFONT_GB2312_CHARSET,
        pdfium_c.FXFONT_CHINESEBIG5_CHARSET,
        pdfium_c.FXFONT_HANGEUL_CHARSET,
    }
)


def _sfnt_tables(data: bytes) -> dict[int, tuple[int, int]]:
    (count,) = struct.unpack_from(">H", data, 4)
    tables = {}
    for i in range(count):
        tag, _checksum, offset, length = struct.unpack_from(">IIII", data, 12 + 16 * i)
        tables[tag] = (offset, length)
    return tables


@cache
def _faces() -> dict[int, _Face]:
    faces = {}
    for handle, name, path in (
        (_GOTHIC, FONT_NAME, FONT_PATH),
        (_MINCHO, MINCHO_NAME, MINCHO_PATH),
    ):
        data = path.read_bytes()
        buffer = (ctypes.c_char * len(data)).from_buffer_copy(data)
        faces[handle] = _Face(name=name.encode(), data=buffer, tables=_sfnt_tables(data))
    return faces


def shipped_face_for(name: bytes, *, charset: int, serif: bool) -> str | None:
    """The shipped font PDFium draws a non-embedded font with, or None for its built-in ones.

    ``name`` is the font's name as PDFium passes it (the PDF's /BaseFont, bytes, often
    Shift_JIS), ``charset`` PDFium's FXFONT_*_CHARSET (from the CIDSystemInfo ordering: Japan1 →
    Shift_JIS …), ``serif`` the FontDescriptor's serif flag. A CJK charset or a Japanese, Chinese
    or Korean font name gets IPAex Gothic, or IPAex Mincho when the name is a Mincho one (or,
    with a neutral name, the serif flag is set); anything else gets None: PDFium then uses the
    Latin fonts built into it, which are the same on every host.
    """
    gothic = bool(_GOTHIC_NAMES.search(name))
    mincho = not gothic and bool(_MINCHO_NAMES.search(name))
    if not (gothic or mincho or charset in _CJK_CHARSETS):
        return None
    if mincho or (serif and not gothic):
        return MINCHO_NAME
    return FONT_NAME


class _ShippedFonts(pdfium.PdfSysfontBase):  # type: ignore[misc]
    """PDFium's system font interface (fpdf_sysfontinfo.h), answered from `keiyaku.fonts` only.

    Every callback is implemented here, so PDFium's default one (which reads the host's font
    folders) is never asked. PDFium calls these only from calls made under ``_PDFIUM_LOCK``.
    """

    def __init__(self) -> None:
        # An empty interface to "wrap" instead of PDFium's default: nothing is delegated to it.
        super().__init__(default=pdfium_c.FPDF_SYSFONTINFO(version=1))

    def Release(self, _: Any) -> None:
        pass  # nothing is allocated per installation

    def EnumFonts(self, _: Any, mapper: Any) -> None:
        for face in _faces().values():
            pdfium_c.FPDF_AddInstalledFont(mapper, face.name, pdfium_c.FXFONT_SHIFTJIS_CHARSET)

    def MapFont(
        self,
        _: Any,
        weight: int,
        italic: int,
        charset: int,
        pitch_family: int,
        face: Any,
        exact: Any,
    ) -> int | None:
        name = ctypes.cast(face, ctypes.c_char_p).value or b""
        serif = bool(pitch_family & pdfium_c.FXFONT_FF_ROMAN)
        chosen = shipped_face_for(name, charset=charset, serif=serif)
        if chosen is None:
            return None
        return _MINCHO if chosen == MINCHO_NAME else _GOTHIC

    def GetFont(self, _: Any, face: Any) -> int | None:
        name = ctypes.cast(face, ctypes.c_char_p).value
        return next((h for h, f in _faces().items() if f.name == name), None)

    def GetFontData(self, _: Any, handle: int | None, table: int, buffer: Any, size: int) -> int:
        face = _faces().get(handle or 0)
        if face is None:
            return 0
        if table == 0:
            offset, length = 0, len(face.data)
        elif table in face.tables:
            offset, length = face.tables[table]
        else:
            return 0
        if buffer and size >= length:
            ctypes.memmove(buffer, ctypes.addressof(face.data) + offset, length)
        return length

    def GetFaceName(self, _: Any, handle: int | None, buffer: Any, size: int) -> int:
        face = _faces().get(handle or 0)
        if face is None:
            return 0
        name = face.name + b"\0"
        if buffer and size >= len(name):
            ctypes.memmove(buffer, name, len(name))
        return len(name)

    def GetFontCharset(self, _: Any, handle: int | None) -> int:
        return int(pdfium_c.FXFONT_SHIFTJIS_CHARSET)

    def DeleteFont(self, _: Any, handle: int | None) -> None:
        pass  # the faces live as long as the process


def _install_shipped_fonts() -> _ShippedFonts:
    handler = _ShippedFonts()
    with _PDFIUM_LOCK:
        handler.setup()
    return handler


# Installed once per process, before this module draws anything. pypdfium2 keeps it alive.
_SHIPPED_FONTS = _install_shipped_fonts()


# --- documents, sizes, images --------------------------------------------------------------------


@contextmanager
def _document(pdf: bytes, *, forms: bool = False) -> Iterator[pdfium.PdfDocument]:
    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            if forms:
                # Must happen before any page is loaded, or form fields are not drawn.
                doc.init_forms()
            yield doc
        finally:
            doc.close()


def page_count(pdf: bytes) -> int:
    with _document(pdf) as doc:
        return len(doc)


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) of every page as displayed (see `geometry.visible_page`).

    Also opens the file with PDFium, so a file PDFium cannot read raises here.
    """
    pages = visible_pages(pdf)
    if page_count(pdf) != len(pages):
        raise ValueError("PDFium and qpdf disagree on the number of pages")
    return [page.size for page in pages]


MAX_TEXT_CHARS = 1_000_000
"""Most characters of a document's text kept for search (about 500 dense A4 pages)."""


def document_text(pdf: bytes, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """The text PDFium extracts from every page, pages separated by a newline, cut at
    ``max_chars`` characters (R28: full-text search; a scanned page has none). Run where the
    file's other PDFium reading runs: in an ingest's budgeted child."""
    parts: list[str] = []
    held = 0
    with _document(pdf) as doc:
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_range()
            finally:
                textpage.close()
                page.close()
            parts.append(text[: max_chars - held])
            held += len(parts[-1])
            if held >= max_chars:
                break
    return "\n".join(parts)


def max_render_pixels() -> int:
    """Most pixels one page image may have: ``settings.KEIYAKU_MAX_RENDER_PIXELS``."""
    return int(getattr(settings, "KEIYAKU_MAX_RENDER_PIXELS", DEFAULT_MAX_RENDER_PIXELS))


def scale_within(width_pt: float, height_pt: float, scale: float, max_pixels: int) -> float:
    """``scale`` (px per pt), lowered until the bitmap pypdfium2 allocates has ≤ ``max_pixels``.

    pypdfium2 makes a bitmap of ceil(width × scale) × ceil(height × scale) pixels.
    """
    if width_pt <= 0 or height_pt <= 0 or scale <= 0:
        raise ValueError("page size and scale must be positive")
    if max_pixels < 1:
        raise ValueError("max_pixels must be positive")
    scale = min(scale, math.sqrt(max_pixels / (width_pt * height_pt)))
    while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > max_pixels:
        scale *= 0.99
    return scale


def render_page_bitmap(
    pdf: bytes, page_index: int, *, width_px: int = 1100, max_pixels: int | None = None
) -> Image.Image:
    """One page as an RGB bitmap, ``width_px`` wide, with form fields and annotations drawn.

    The image is PIL mode ``RGBX`` (RGB and an unused byte per pixel): PDFium draws into a
    buffer Python owns and the image is made over that buffer, not copied from it. Before,
    PDFium's BGR bitmap, its RGB copy and the copy ``convert`` made for the encoder were held
    at once: 3.2 × a 50 MB scanned PDF at 2,400 px with the PDF itself (issue 12).

    The image never has more than ``max_pixels`` pixels (default: `max_render_pixels`): a page
    too large for the requested width (a 100 × 14400 pt strip at 1100 px is 174 million pixels)
    is drawn smaller, keeping its aspect ratio, so the image is then narrower than ``width_px``
    (issue 10, finding 4). Raises IndexError for a page that does not exist, ValueError for a
    ``width_px`` or ``max_pixels`` below 1.
    """
    if width_px < 1:
        raise ValueError("width_px must be positive")
    limit = max_render_pixels() if max_pixels is None else max_pixels
    with _document(pdf, forms=True) as doc:
        if not 0 <= page_index < len(doc):
            raise IndexError(f"page {page_index} out of range (0..{len(doc) - 1})")
        page = doc[page_index]
        try:
            width, height = page.get_size()
            # pypdfium2 rounds the bitmap size up; shave a hair so it is exactly width_px.
            wanted = width_px / width * (1 - 1e-9)
            scale = scale_within(width, height, wanted, limit)
            # RGBx in a buffer pypdfium2 allocates in Python ("native"): PIL maps that layout
            # without a copy, and the buffer outlives the document and the bitmap's handle.
            bitmap = page.render(
                scale=scale, may_draw_forms=True, rev_byteorder=True, prefer_bgrx=True
            )
            image: Image.Image = bitmap.to_pil()
            bitmap.close()
        finally:
            page.close()
    if scale == wanted and image.width != width_px:
        image = image.resize((width_px, max(1, round(image.height * width_px / image.width))))
    return image


def render_page_png(
    pdf: bytes, page_index: int, *, width_px: int = 1100, max_pixels: int | None = None
) -> bytes:
    """PNG (lossless) of one page: `render_page_bitmap` with the same arguments and refusals.
    For checks that compare pixels; the screens get `page_jpeg`."""
    out = io.BytesIO()
    render_page_bitmap(pdf, page_index, width_px=width_px, max_pixels=max_pixels).convert(
        "RGB"
    ).save(out, format="PNG")
    return out.getvalue()


JPEG_QUALITY = 90
"""Quality of page images for the screens. Measured (bench/page_encoders.py, docs/architecture.md
"Page images"): 6 pt Japanese text at 800 px stays as legible as in the lossless PNG (PSNR of
that line about 42 dB), and encoding is 5–20 × faster than PNG at level 1 to 6 (issue 12)."""


def page_jpeg(image: Image.Image) -> bytes:
    """The JPEG of a page image from `render_page_bitmap`: JPEG_QUALITY without chroma
    subsampling (4:4:4, so thin red text and seals keep their edges), baseline and optimised
    Huffman tables. The encoder reads the ``RGBX`` image as it is (no RGB copy); optimised
    tables make libjpeg hold the whole image's coefficients (2 bytes a sample), so render the
    page, let go of the PDF, then encode (`keiyaku.web.page_images`)."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    return out.getvalue()


# --- text that draws nothing ---------------------------------------------------------------------


class TextNotDrawnError(ValueError):
    """A page carries text that PDFium extracts but draws nothing for (see require_text_drawn)."""

    def __init__(self, page_index: int, text: str) -> None:
        self.page_index = page_index
        """0-based index of the first such page."""
        self.text = text
        """Some of the text that is not drawn (at most 40 characters)."""
        super().__init__(f"page {page_index + 1}: text not drawn: {text!r}")


_INVISIBLE_MODES = frozenset(
    {pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium_c.FPDF_TEXTRENDERMODE_CLIP}
)
_MIN_TEXT_PT = 1.0  # text smaller than this is not judged: nobody reads it in any viewer
_CHECK_SCALE = 1.0  # px per pt for drawing a text object alone; any pixel drawn counts
_CHECK_MAX_PIXELS = 4_000_000  # per text object


def _is_glyph(char: str) -> bool:
    # Spaces (also U+3000), controls and format characters draw nothing in any font.
    return not unicodedata.category(char).startswith(("Z", "C"))


def _text_objects(page: Any) -> Iterator[Any]:
    """Every text object of the page, also those inside form XObjects."""
    stack = [
        pdfium_c.FPDFPage_GetObject(page, i) for i in range(pdfium_c.FPDFPage_CountObjects(page))
    ]
    while stack:
        obj = stack.pop()
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            yield obj
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            count = pdfium_c.FPDFFormObj_CountObjects(obj)
            stack.extend(pdfium_c.FPDFFormObj_GetObject(obj, i) for i in range(count))


def _object_text(obj: Any, textpage: Any) -> str:
    size = pdfium_c.FPDFTextObj_GetText(obj, textpage, None, 0)  # bytes, UTF-16LE with NUL
    if size <= 2:
        return ""
    buffer = ctypes.create_string_buffer(size)
    pdfium_c.FPDFTextObj_GetText(
        obj, textpage, ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), size
    )
    return buffer.raw[: size - 2].decode("utf-16-le", errors="replace")


def _is_type3(font: Any) -> bool:
    # Every other font has a program PDFium draws with (embedded, shipped or built in).
    size = ctypes.c_size_t()
    return (
        bool(font) and bool(pdfium_c.FPDFFont_GetFontData(font, None, 0, size)) and not size.value
    )


def _effective_size(obj: Any) -> float:
    """Font size × the text object's matrix scale, in pt (the height a reader sees)."""
    size = ctypes.c_float()
    if not pdfium_c.FPDFTextObj_GetFontSize(obj, size):
        return 0.0
    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, matrix):
        return 0.0
    return float(size.value) * math.sqrt(abs(matrix.a * matrix.d - matrix.b * matrix.c))


def _draws_anything(doc: Any, page: Any, obj: Any) -> bool:
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    scale = _CHECK_SCALE
    if pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
        area = max(right.value - left.value, 1) * max(top.value - bottom.value, 1)
        scale = min(scale, math.sqrt(_CHECK_MAX_PIXELS / area))
    bitmap = pdfium_c.FPDFTextObj_GetRenderedBitmap(doc, page, obj, scale)
    if not bitmap:  # PDFium makes none when the text has no extent: nothing to draw
        return False
    try:
        height = pdfium_c.FPDFBitmap_GetHeight(bitmap)
        stride = pdfium_c.FPDFBitmap_GetStride(bitmap)
        pixels = ctypes.string_at(pdfium_c.FPDFBitmap_GetBuffer(bitmap), stride * height)
    finally:
        pdfium_c.FPDFBitmap_Destroy(bitmap)
    # BGRA on a transparent background: any byte that is not 0 is a drawn pixel.
    return bool(pixels.strip(b"\0"))


def _page_text(textpage: Any, count: int) -> list[int]:
    """The code point of each character index (one FPDFText_GetText call, not one per char)."""
    buffer = (ctypes.c_ushort * (count + 1))()
    written = pdfium_c.FPDFText_GetText(textpage, 0, count, buffer)
    units = list(buffer[: max(written - 1, 0)])
    if len(units) == count and not any(0xD800 <= u < 0xE000 for u in units):
        return units
    # Characters beyond the BMP take two UTF-16 units: ask per character instead.
    return [pdfium_c.FPDFText_GetUnicode(textpage, i) for i in range(count)]


def _glyphless_chars(textpage: Any) -> Iterator[tuple[int, Any]]:
    """(code point, text object) of each non-space character PDFium gives an empty box.

    PDFium's box for a character is the glyph's outline box; a glyph the font lacks has none
    (measured: height 0.001 × the font size), where a real glyph, even a thin rule, has
    several hundredths of the font size.
    """
    get_box = pdfium_c.FPDFText_GetCharBox
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    for index, code in enumerate(_page_text(textpage, pdfium_c.FPDFText_CountChars(textpage))):
        if code <= 0x20:  # the common spaces and controls, without a call into PDFium
            continue
        get_box(textpage, index, left, right, bottom, top)
        if right.value - left.value > 0.5 and top.value - bottom.value > 0.5:
            continue
        if not code < 0x110000 or not _is_glyph(chr(code)):
            continue
        extent = min(right.value - left.value, top.value - bottom.value)
        if extent > 0.005 * pdfium_c.FPDFText_GetFontSize(textpage, index):
            continue
        obj = pdfium_c.FPDFText_GetTextObject(textpage, index)
        if obj:
            yield code, obj


def _address(handle: Any) -> int | None:
    """A PDFium handle as a number, to compare and hash (ctypes pointers compare by identity)."""
    return ctypes.cast(handle, ctypes.c_void_p).value


def _judged(obj: Any) -> bool:
    """Whether a text object is drawn visibly enough for its text to be required on the page."""
    mode = pdfium_c.FPDFTextObj_GetTextRenderMode(obj)
    return mode not in _INVISIBLE_MODES and _effective_size(obj) >= _MIN_TEXT_PT


def _undrawn_text(doc: Any, page: Any) -> str:
    """Text of the page that PDFium extracts but draws nothing for ("" if there is none)."""
    fonts: dict[int | None, tuple[bool, bool]] = {}  # font → (Type 3, embedded)
    suspects = []  # visible text objects in a Type 3 font or a font that is not embedded
    for obj in _text_objects(page):
        font = pdfium_c.FPDFTextObj_GetFont(obj)
        key = _address(font)
        if key not in fonts:
            embedded = bool(font) and bool(pdfium_c.FPDFFont_GetIsEmbedded(font))
            fonts[key] = (_is_type3(font), embedded)
        type3, embedded = fonts[key]
        if (type3 or not embedded) and _judged(obj):
            suspects.append((obj, type3))
    if not suspects:
        return ""  # embedded fonts only: they draw the same in every viewer
    textpage = pdfium_c.FPDFText_LoadPage(page)
    if not textpage:
        return ""
    try:
        for obj, type3 in suspects:
            # A run in a Type 3 font that draws no pixel: its glyphs are procedures, and an
            # empty one still has the box its d1 operator declares.
            if type3 and not _draws_anything(doc, page, obj):
                text = _object_text(obj, textpage)
                if any(map(_is_glyph, text)):
                    return text.strip()
        if all(type3 for _, type3 in suspects):
            return ""
        # A font that is not embedded is drawn with a shipped or built-in one, which may lack
        # some glyphs or all of them: PDFium gives such a character an empty box.
        substituted = {_address(obj) for obj, type3 in suspects if not type3}
        glyphless = _glyphless_chars(textpage)
        return "".join(chr(code) for code, obj in glyphless if _address(obj) in substituted)
    finally:
        pdfium_c.FPDFText_ClosePage(textpage)


def require_text_drawn(pdf: bytes) -> None:
    """Raise TextNotDrawnError for the first page with text that renders as nothing.

    The party agrees to the page image; text that is in the file but not in the image (a font
    that is not embedded and that no shipped font stands in for, a Type 3 font whose glyphs draw
    nothing, a character the font used has no glyph for) would be signed unseen (issue 10,
    finding 3). The rule, for text drawn in a visible render mode at 1 pt or more:

    - each text object (one run of text in one font, also inside form XObjects) whose extracted
      text has a character that is not a space or a control character draws at least one pixel
      when PDFium draws it alone;
    - each such character has a glyph: PDFium gives a character it has no glyph for an empty box.

    Not judged: invisible text (render mode 3, the OCR layer of scans; mode 7, clip only); text
    smaller than 1 pt; the colour, so white text on white paper passes (it draws pixels), as does
    text covered by something drawn later.
    """
    with _document(pdf) as doc:
        for index in range(len(doc)):
            page = pdfium_c.FPDF_LoadPage(doc, index)
            if not page:
                raise ValueError(f"PDFium cannot load page {index + 1}")
            try:
                undrawn = _undrawn_text(doc, page)
            finally:
                pdfium_c.FPDF_ClosePage(page)
            if undrawn:
                raise TextNotDrawnError(index, undrawn[:40])
