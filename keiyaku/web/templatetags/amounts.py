"""Amounts as staff read them: 12,100,000 円 (issue 14: the contract page showed 12100000 円)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def yen(amount: int | None) -> str:
    """`amount` (whole yen, or None) with digit grouping and the unit: 「12,100,000 円」;
    「—」 when no amount is set. Grouped by threes with a comma whatever the language, as
    Japanese business documents write amounts."""
    if amount is None or amount == "":
        return "—"
    return _("%(amount)s 円") % {"amount": f"{int(amount):,}"}
