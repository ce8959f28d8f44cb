"""A subset of the embedded font (IPAex Gothic) as a PDF Type0 font, for drawing box values.

Knows nothing of Django. The subset is written into a pyHanko ``IncrementalPdfFileWriter``
as a Type0/CIDFontType2 font (Identity-H, one CID per character, mapped to the subset's
glyphs by a CIDToGIDMap, with a ToUnicode CMap so the values can be extracted and searched).
One CID per character rather than per glyph: the font draws some characters with one glyph
(- and ‐, − and the soft hyphen), and text extraction must still give back the character
that was typed. pyHanko's own OpenType engine needs fontTools and HarfBuzz; reportlab's
TrueType subsetter, which we already ship, is enough for horizontal CJK text without shaping.
A character the font cannot draw raises ``keiyaku.fonts.MissingGlyphError``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string

from keiyaku.fonts import FONT_NAME, FONT_PATH, require_glyphs

if TYPE_CHECKING:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from reportlab.pdfbase.ttfonts import TTFontFile

__all__ = ["FontSubset", "font_metrics", "pdf_stream", "text_width"]


_SUBSETTER_LOCK = threading.Lock()


@cache
def font_metrics() -> TTFontFile:
    """The parsed font (~0.5 s), once per process. Its subsetter seeks: hold _SUBSETTER_LOCK."""
    from reportlab.pdfbase.ttfonts import TTFontFile

    return TTFontFile(str(FONT_PATH))


class FontSubset:
    """A subset of the embedded font in one revision: Type0, Identity-H, a CID per character."""

    def __init__(self, ref: generic.IndirectObject, cids: Mapping[str, int]) -> None:
        self.ref = ref
        self._cids = cids
        metrics = font_metrics()
        self.ascent: float = metrics.ascent
        self.descent: float = metrics.descent

    def encode(self, text: str) -> bytes:
        return b"<" + "".join(f"{self._cids[c]:04X}" for c in text).encode() + b">"

    def width(self, text: str) -> float:
        return text_width(text, 1000)

    @classmethod
    def build(cls, writer: IncrementalPdfFileWriter, text: Iterable[str]) -> FontSubset:
        chars = sorted(set(text))
        require_glyphs("".join(chars))
        metrics = font_metrics()
        codes = [ord(c) for c in chars]
        with _SUBSETTER_LOCK:
            font_file = metrics.makeSubset(codes)
        # The subsetter numbers glyphs in the order it meets them; replay that numbering.
        gid_of_original: dict[int, int] = {0: 0}
        gids: dict[str, int] = {}
        for char in chars:
            original = metrics.charToGlyph[ord(char)]
            gids[char] = gid_of_original.setdefault(original, len(gid_of_original))
        tag = "".join(
            chr(ord("A") + b % 26) for b in hashlib.sha256(" ".join(chars).encode()).digest()[:6]
        )
        base_font = pdf_name(f"/{tag}+{FONT_NAME}")
        file_stream = pdf_stream(
            font_file, {pdf_name("/Length1"): generic.NumberObject(len(font_file))}
        )
        descriptor = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/FontDescriptor"),
                pdf_name("/FontName"): base_font,
                pdf_name("/Flags"): generic.NumberObject(4),  # symbolic: glyphs by id
                pdf_name("/FontBBox"): generic.ArrayObject(
                    generic.NumberObject(round(v)) for v in metrics.bbox
                ),
                pdf_name("/ItalicAngle"): generic.NumberObject(round(metrics.italicAngle)),
                pdf_name("/Ascent"): generic.NumberObject(round(metrics.ascent)),
                pdf_name("/Descent"): generic.NumberObject(round(metrics.descent)),
                pdf_name("/CapHeight"): generic.NumberObject(round(metrics.capHeight)),
                pdf_name("/StemV"): generic.NumberObject(round(metrics.stemV)),
                pdf_name("/FontFile2"): writer.add_object(file_stream),
            }
        )
        # CID n (from 1; 0 is .notdef) draws chars[n - 1].
        cids = {char: number for number, char in enumerate(chars, start=1)}
        cid_to_gid = b"\0\0" + b"".join(gids[char].to_bytes(2, "big") for char in chars)
        widths = generic.ArrayObject(
            [
                generic.NumberObject(1),
                generic.ArrayObject(
                    generic.NumberObject(
                        round(metrics.charWidths.get(ord(char), metrics.defaultWidth))
                    )
                    for char in chars
                ),
            ]
        )
        cid_font = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/CIDFontType2"),
                pdf_name("/BaseFont"): base_font,
                pdf_name("/CIDSystemInfo"): generic.DictionaryObject(
                    {
                        pdf_name("/Registry"): pdf_string("Adobe"),
                        pdf_name("/Ordering"): pdf_string("Identity"),
                        pdf_name("/Supplement"): generic.NumberObject(0),
                    }
                ),
                pdf_name("/FontDescriptor"): writer.add_object(descriptor),
                pdf_name("/DW"): generic.NumberObject(1000),
                pdf_name("/W"): widths,
                pdf_name("/CIDToGIDMap"): writer.add_object(pdf_stream(cid_to_gid)),
            }
        )
        font = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type0"),
                pdf_name("/BaseFont"): base_font,
                pdf_name("/Encoding"): pdf_name("/Identity-H"),
                pdf_name("/DescendantFonts"): generic.ArrayObject([writer.add_object(cid_font)]),
                pdf_name("/ToUnicode"): writer.add_object(pdf_stream(_to_unicode(cids))),
            }
        )
        return cls(writer.add_object(font), cids)


def _to_unicode(cids: Mapping[str, int]) -> bytes:
    entries = [
        f"<{cid:04X}> <{char.encode('utf-16-be').hex().upper()}>"
        for char, cid in sorted(cids.items(), key=lambda item: item[1])
    ]
    blocks = []
    for start in range(0, len(entries), 100):
        chunk = entries[start : start + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def text_width(text: str, size: float) -> float:
    """The advance width of `text` at `size` points, in PDF points (no kerning, no shaping)."""
    widths = font_metrics().charWidths
    return sum(widths.get(ord(c), 1000) for c in text) * size / 1000


def pdf_stream(data: bytes, entries: Mapping[Any, Any] | None = None) -> generic.StreamObject:
    """A stream object holding `data` (Flate-compressed when not empty) with `entries`."""
    stream = generic.StreamObject(dict(entries or {}), stream_data=data)
    if data:
        stream.compress()
    return stream
