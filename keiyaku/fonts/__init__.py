"""The Japanese fonts keiyaku ships (IPAex Gothic and IPAex Mincho, IPA licence beside them).

IPAex Gothic is the one font every PDF we write embeds. A character it cannot draw is an error,
never a blank box: callers run ``require_glyphs`` on every string before drawing it.

The page renderer (`keiyaku.signing.render`) draws with these two fonts, and only these, every
font a PDF names but does not embed that needs a Japanese font (Mincho for serif/明朝 names,
Gothic for the others), so that a page looks the same on every host (issue 10, finding 3).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

FONT_PATH: Path = Path(__file__).with_name("ipaexg.ttf")
FONT_NAME = "IPAexGothic"
MINCHO_PATH: Path = Path(__file__).with_name("ipaexm.ttf")
MINCHO_NAME = "IPAexMincho"

# Layout characters that are never drawn as glyphs.
_IGNORED = frozenset("\n\r\t")


class MissingGlyphError(ValueError):
    """Text contains characters the embedded font cannot draw."""

    def __init__(self, characters: set[str] | frozenset[str]) -> None:
        self.characters: frozenset[str] = frozenset(characters)
        listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in sorted(self.characters))
        super().__init__(f"font {FONT_NAME} has no glyph for: {listed}")


@cache
def _cmap() -> dict[int, int]:
    # reportlab's TrueType parser already reads the cmap; no need for fontTools.
    from reportlab.pdfbase.ttfonts import TTFontFile

    return dict(TTFontFile(str(FONT_PATH)).charToGlyph)


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` the font cannot draw (newline, CR and tab ignored)."""
    cmap = _cmap()
    return {c for c in set(text) - _IGNORED if not cmap.get(ord(c))}


def require_glyphs(text: str) -> str:
    """Return ``text`` unchanged, or raise MissingGlyphError."""
    missing = missing_glyphs(text)
    if missing:
        raise MissingGlyphError(missing)
    return text


@cache
def register_reportlab_font() -> str:
    """Register the font with reportlab once per process; return the name to draw with.

    reportlab embeds a subset of a registered TTFont in every PDF that uses it.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH)))
    return FONT_NAME
