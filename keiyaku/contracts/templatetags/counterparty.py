"""What every counterparty page and mail says about a contract (issue 14): its signing
deadline and whom to ask. `{% load counterparty %}`; used by `web/sign_base.html` and the
counterparty mails, so no page or mail can leave either out."""

from __future__ import annotations

from typing import Any

from django import template

from keiyaku.accounts.contacts import contact_for
from keiyaku.contracts.timefmt import deadline_text

register = template.Library()


@register.simple_tag
def contract_deadline(contract: Any) -> str:
    """The contract's signing deadline in JST (and the era where its organisation chooses),
    or "" when it has none (a draft)."""
    if contract is None or contract.deadline is None:
        return ""
    return deadline_text(contract.deadline, era=contract.organisation.deadline_wareki)


@register.inclusion_tag("web/_contact.html")
def contact_block(contract: Any) -> dict[str, Any]:
    """The contact block of a counterparty page (`accounts.contacts.contact_for`)."""
    return {"contact": contact_for(contract), "organisation": contract.organisation}


@register.inclusion_tag("notifications/mail/_contact.txt")
def contact_text(contract: Any) -> dict[str, Any]:
    """The contact block of a counterparty mail, as lines of text."""
    return {"contact": contact_for(contract), "organisation": contract.organisation}
