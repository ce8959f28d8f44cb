import pytest
from reportlab.pdfbase import pdfmetrics

from keiyaku.fonts import (
    FONT_NAME,
    FONT_PATH,
    MissingGlyphError,
    missing_glyphs,
    register_reportlab_font,
    require_glyphs,
)


def test_font_file_and_licence_are_shipped():
    assert FONT_PATH.name == "ipaexg.ttf"
    assert FONT_PATH.stat().st_size > 1_000_000
    assert (FONT_PATH.parent / "IPA_Font_License_Agreement_v1.0.txt").exists()


@pytest.mark.parametrize(
    "text", ["髙", "㈱", "①", "〒", "締結証明書", "ＡＢＣ abc 123 @.-_", "令和"]
)
def test_characters_common_in_japanese_contracts_have_glyphs(text):
    assert missing_glyphs(text) == set()
    assert require_glyphs(text) == text


def test_unassigned_codepoint_and_emoji_are_missing():
    assert missing_glyphs("髙橋\U000f0000様😀") == {"\U000f0000", "😀"}


def test_newline_tab_and_carriage_return_are_ignored():
    assert missing_glyphs("一行目\n\t二行目\r\n") == set()


def test_require_glyphs_raises_with_the_characters():
    with pytest.raises(MissingGlyphError) as info:
        require_glyphs("山田\U000f0000")
    assert info.value.characters == {"\U000f0000"}
    assert isinstance(info.value, ValueError)
    assert "U+F0000" in str(info.value)


def test_register_reportlab_font_is_idempotent():
    assert register_reportlab_font() == FONT_NAME
    assert register_reportlab_font() == FONT_NAME
    assert pdfmetrics.getRegisteredFontNames().count(FONT_NAME) == 1
