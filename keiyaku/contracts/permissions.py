"""Who may change a contract (R2, R29, R36), checked inside every contract write service.

A view, an API view and a job call the same services, so none of them can forget the check.
Views still look contracts up through `selectors.contract_for` (404 for outsiders); the
services check again, because a service can be called from anywhere.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from keiyaku.accounts.permissions import can_edit_contracts
from keiyaku.contracts.models import Contract
from keiyaku.refusals import NotAllowed


def require_contract_editor(actor: Any) -> None:
    """The actor may change contracts at all: an active member of an organisation with the
    sender or admin role (a viewer changes nothing).

    Raises:
        NotAllowed: anyone else (code ``forbidden``).
    """
    if not can_edit_contracts(actor):
        raise NotAllowed(_("案件を変更する権限がありません。"))


def may_change_contract(actor: Any, contract: Contract) -> bool:
    """Whether `require_contract_change` would let the actor change this contract (for screens
    that show or hide the sender's actions)."""
    from keiyaku.contracts.selectors import contracts_changeable_by

    return (
        can_edit_contracts(actor) and contracts_changeable_by(actor).filter(pk=contract.pk).exists()
    )


def require_contract_change(actor: Any, contract: Contract) -> None:
    """The actor may change this contract: an editor (`require_contract_editor`) on its sender
    side (`contracts_changeable_by`: own organisation; department, shares, creator, R29). A
    staff member who is only a party of it (asked to sign or approve) may read it, not change it.

    Raises:
        NotAllowed: a viewer, staff of a department that cannot see the contract, or staff of
            another organisation (code ``forbidden``).
    """
    require_contract_editor(actor)
    if not may_change_contract(actor, contract):
        raise NotAllowed(_("この案件を変更する権限がありません。"))
