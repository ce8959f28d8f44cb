"""Text that ends up in a PDF must be drawable in the embedded font: never a blank box."""

from __future__ import annotations

from django.utils.translation import gettext as _

from keiyaku.contracts.errors import ContractError
from keiyaku.fonts import missing_glyphs


def require_printable(**values: str) -> None:
    """Refuse, naming the field and the characters, text the embedded font cannot draw.

    Each keyword is the field's label as the form shows it in Japanese (「会社名」); it is a
    msgid of the catalogue already (the forms' labels), so it is translated here.
    """
    for label, value in values.items():
        missing = missing_glyphs(value)
        if missing:
            chars = "".join(sorted(missing))
            raise ContractError(
                _("%(label)sに使用できない文字が含まれています: %(chars)s")
                % {"label": _(label), "chars": chars},
                code="missing_glyph",
            )
