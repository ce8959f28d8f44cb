"""The embedded font's subset as a PDF Type0 font: glyphs, widths and a ToUnicode map."""

from __future__ import annotations

from io import BytesIO

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from keiyaku.fonts import MissingGlyphError
from keiyaku.signing.font_subset import FontSubset, pdf_stream, text_width
from tests.pdfs import make_pdf


def _writer() -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(BytesIO(make_pdf()))


def test_subset_maps_each_character_to_its_own_cid_with_a_to_unicode_entry():
    font = FontSubset.build(_writer(), "髙橋㈱①‐-")
    # One CID per character, in sorted order from 1; even characters drawn by one glyph.
    assert font.encode("-") != font.encode("‐")
    assert font.encode("髙橋") == b"<" + font.encode("髙")[1:-1] + font.encode("橋")[1:-1] + b">"
    descriptor = font.ref.get_object()
    assert descriptor["/Subtype"] == "/Type0"
    assert descriptor["/Encoding"] == "/Identity-H"
    to_unicode = descriptor["/ToUnicode"].get_object().data
    assert b"<9AD9>" in to_unicode  # 髙 U+9AD9
    assert descriptor["/BaseFont"].endswith("+IPAexGothic")


def test_a_character_the_font_cannot_draw_is_an_error_not_a_blank():
    with pytest.raises(MissingGlyphError):
        FontSubset.build(_writer(), "契約\U0001f600")


def test_widths_are_in_points_and_grow_with_the_text():
    assert text_width("", 10) == 0
    assert text_width("契約", 10) == pytest.approx(20.0)  # full-width: 1000 units each
    assert text_width("契約書", 10) > text_width("契約", 10)
    assert text_width("契約", 20) == pytest.approx(2 * text_width("契約", 10))


def test_streams_are_compressed_unless_empty():
    assert pdf_stream(b"")._data == b""
    stream = pdf_stream(b"0 0 m 10 10 l S" * 20)
    assert stream["/Filter"] == "/FlateDecode"
    assert stream.data == b"0 0 m 10 10 l S" * 20
