"""The contact picker on a draft contract's page, which the contracts view knows nothing of."""

from __future__ import annotations

from typing import Any

from django import template

from keiyaku.accounts.permissions import can_edit_contracts
from keiyaku.addressbook.forms import PickContactForm

register = template.Library()


@register.simple_tag(takes_context=True)
def pick_contact_form(context: dict[str, Any]) -> PickContactForm | None:
    """The picker, or None for staff who may not change contracts (a viewer)."""
    staff = context["request"].user
    if not can_edit_contracts(staff):
        return None
    return PickContactForm(staff=staff, auto_id="id_pick_%s")
