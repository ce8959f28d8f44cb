"""Sharing a contract beyond its department (R29): with one staff member or one department."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Department, Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract, ContractShare
from keiyaku.contracts.permissions import require_contract_change


@transaction.atomic
def contract_share_add(
    *,
    contract: Contract,
    actor: Staff,
    staff: Staff | None = None,
    department: Department | None = None,
    meta: RequestMeta = SYSTEM,
) -> ContractShare:
    """Share with exactly one staff member or department of the contract's organisation."""
    require_contract_change(actor, contract)
    if (staff is None) == (department is None):
        raise ContractError(
            _("共有先の職員または所属をひとつ選んでください。"), code="share_target"
        )
    target = staff if staff is not None else department
    assert target is not None
    if target.organisation_id != contract.organisation_id:
        raise ContractError(_("共有先が見つかりません。"), code="share_target_unknown")
    share, created = ContractShare.objects.get_or_create(
        contract=contract, staff=staff, department=department
    )
    if not created:
        raise ContractError(_("既に共有しています。"), code="already_shared")
    audit_record(
        event="contract.share",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={
            "staff": staff.username if staff else None,
            "department": department.name if department else None,
        },
        meta=meta,
    )
    return share


@transaction.atomic
def contract_share_remove(
    *, share: ContractShare, actor: Staff, meta: RequestMeta = SYSTEM
) -> None:
    require_contract_change(actor, share.contract)
    audit_record(
        event="contract.unshare",
        organisation=share.contract.organisation,
        actor=actor,
        subject=share.contract.audit_subject,
        detail={
            "staff": share.staff.username if share.staff else None,
            "department": share.department.name if share.department else None,
        },
        meta=meta,
    )
    share.delete()
