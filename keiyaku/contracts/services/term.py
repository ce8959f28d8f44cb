"""A contract's term: its period, automatic renewal and notice deadline (R31).

`term_check` is the one rule for these fields, used wherever they are entered: creating a
contract (`drafting.contract_create`) and changing them later (`contract_term_change`, e.g. when
an automatically renewed contract runs another year). Renewal alerts
(`services.renewal_alerts`) read them.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract
from keiyaku.contracts.permissions import require_contract_change


def term_check(
    *,
    period_start: date | None,
    period_end: date | None,
    auto_renew: bool,
    notice_deadline: date | None,
) -> None:
    """Refuse a term that cannot be right (R31).

    Raises `ContractError`: ``period`` (the end before the start), ``notice_without_renewal``
    (a notice deadline on a contract that does not renew by itself: there is nothing to give
    notice of), ``notice_after_end`` (the notice deadline after the period end: notice not to
    renew is given before the period ends).
    """
    if period_start and period_end and period_end < period_start:
        raise ContractError(
            _("契約期間の終了日が開始日より前です。"), code="period", field="period_end"
        )
    if notice_deadline is not None and not auto_renew:
        raise ContractError(
            _("更新拒絶の通知期限は、自動更新ありの契約にだけ入力できます。"),
            code="notice_without_renewal",
            field="notice_deadline",
        )
    if notice_deadline is not None and period_end is not None and notice_deadline > period_end:
        raise ContractError(
            _("更新拒絶の通知期限は、契約期間の終了日以前の日付にしてください。"),
            code="notice_after_end",
            field="notice_deadline",
        )


def contract_term_change(
    *,
    contract: Contract,
    actor: Staff,
    period_start: date | None,
    period_end: date | None,
    auto_renew: bool,
    notice_deadline: date | None,
    meta: RequestMeta = SYSTEM,
) -> Contract:
    """Change a contract's period, automatic renewal and notice deadline, in any state (R31).

    These are the organisation's management record, not part of the signed documents: the
    usual change is an automatically renewed contract's next year (a later period end and
    notice deadline), which also moves its renewal alerts to the new dates (an alert is once
    per date, `RenewalAlert`). Checked by `term_check`; the contract row is locked; audited as
    ``contract.term`` with the values before and after.

    Raises:
        NotAllowed: the actor may not change the contract (`require_contract_change`).
        ContractError: see `term_check`.
    """
    require_contract_change(actor, contract)
    term_check(
        period_start=period_start,
        period_end=period_end,
        auto_renew=auto_renew,
        notice_deadline=notice_deadline,
    )
    after = {
        "period_start": period_start,
        "period_end": period_end,
        "auto_renew": auto_renew,
        "notice_deadline": notice_deadline,
    }
    with transaction.atomic():
        current = Contract.objects.select_for_update().get(pk=contract.pk)
        before = {name: getattr(current, name) for name in after}
        if before == after:
            return current
        Contract.objects.filter(pk=current.pk).update(**after, last_activity_at=timezone.now())
        audit_record(
            event="contract.term",
            organisation=current.organisation,
            actor=actor,
            subject=current.audit_subject,
            detail={
                "before": {k: _shown(v) for k, v in before.items()},
                "after": {k: _shown(v) for k, v in after.items()},
            },
            meta=meta,
        )
    current.refresh_from_db()
    return current


def _shown(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value
