"""What every counterparty page and mail says about a contract (issue 14): its signing
deadline, whom to ask, and for a forwarded request who forwarded it and whom to ask for the
access code. `{% load counterparty %}`; used by `web/sign_base.html` and the
counterparty mails, so no page or mail can leave either out."""

from __future__ import annotations

from typing import Any

from django import template

from keiyaku.accounts.contacts import contact_for
from keiyaku.contracts import forwarding
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


@register.simple_tag
def access_code_instruction(party: Any, organisation: Any) -> str:
    """Whom to ask for the access code (`contracts.forwarding.access_code_instruction`)."""
    return forwarding.access_code_instruction(party, organisation)


@register.simple_tag
def forward_code_note(party: Any) -> str:
    """The forward page's note to the forwarder (`contracts.forwarding.forward_code_note`)."""
    return forwarding.forward_code_note(party)


@register.inclusion_tag("web/_forwarded.html")
def forward_notice(party: Any) -> dict[str, Any]:
    """On a forwarded party's pages: who forwarded the request, and their message."""
    forwarder = forwarding.forwarded_by(party)
    label = forwarding.person_label(forwarder) if forwarder is not None else ""
    return {"forwarder": forwarder, "label": label}


@register.inclusion_tag("notifications/mail/_forwarded.txt")
def forward_text(party: Any) -> dict[str, Any]:
    """In a forwarded party's mails: who forwarded the request, and their message (quoted)."""
    return forward_notice(party)


@register.filter
def mail_quote(text: Any) -> str:
    """Somebody's own words in a plain-text mail: every line starts with "> ", so the HTML
    part shows them as a quotation and never turns them into a link or a heading
    (`notifications.mail_html`)."""
    lines = str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(f"> {line}".rstrip() if line.strip() else ">" for line in lines)
