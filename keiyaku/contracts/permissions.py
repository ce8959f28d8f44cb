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


def require_contract_change(actor: Any, contract: Contract) -> None:
    """The actor may change this contract: an editor (`require_contract_editor`) who can see
    it through `contracts_visible_to` (own organisation; department, shares, R29).

    Raises:
        NotAllowed: a viewer, staff of a department that cannot see the contract, or staff of
            another organisation (code ``forbidden``).
    """
    from keiyaku.contracts.selectors import contracts_visible_to

    require_contract_editor(actor)
    if not contracts_visible_to(actor).filter(pk=contract.pk).exists():
        raise NotAllowed(_("この案件を変更する権限がありません。"))
