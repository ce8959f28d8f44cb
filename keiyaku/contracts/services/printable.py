"""Text that ends up in a PDF must be drawable in the embedded font: never a blank box."""

from __future__ import annotations

from keiyaku.contracts.errors import ContractError
from keiyaku.fonts import missing_glyphs


def require_printable(**values: str) -> None:
    """Refuse, naming the field and the characters, text the embedded font cannot draw."""
    for label, value in values.items():
        missing = missing_glyphs(value)
        if missing:
            chars = "".join(sorted(missing))
            raise ContractError(
                f"{label}に使用できない文字が含まれています: {chars}", code="missing_glyph"
            )
