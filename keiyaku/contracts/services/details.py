"""A draft's details changed before it is sent (R40: the API's "update before sending").

The same checks as `drafting.contract_create` for the same fields, on the draft's locked row:
once sent, a contract's title, number, counterparty, amount, dates and note are what the
parties were asked to sign under, and are no longer changed (the period and renewal stay
changeable in any state through `term.contract_term_change`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.custom_fields import custom_values_clean, custom_values_store
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract, CustomValue
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.services.drafting import MAX_AMOUNT, _lock_draft, _touch
from keiyaku.contracts.services.printable import require_printable
from keiyaku.contracts.services.term import term_check
from keiyaku.text_input import require_single_line, require_text

# The details a draft's sender may change, as `contract_create` takes them.
DETAIL_FIELDS = (
    "title",
    "management_number",
    "counterparty_company",
    "amount",
    "contract_date",
    "period_start",
    "period_end",
    "auto_renew",
    "notice_deadline",
    "note",
    "allow_forwarding",
)


def contract_details_change(
    *,
    contract: Contract,
    actor: Staff,
    changes: Mapping[str, Any],
    custom_values: Mapping[int, str] | None = None,
    meta: RequestMeta = SYSTEM,
) -> Contract:
    """Change some of a draft's details; fields not in ``changes`` keep their values.

    Args:
        changes: field name (`DETAIL_FIELDS`) → new value (text, ``amount`` in yen or None,
            dates or None, booleans for ``auto_renew`` and ``allow_forwarding``).
        custom_values: the organisation's custom field ids → text as typed, for the fields to
            change (`custom_fields.custom_values_clean`; a required field must keep a value).

    Raises:
        NotAllowed: the actor may not change this contract (`require_contract_change`).
        ContractError: ``not_draft`` once sent; ``title_required``, ``amount``,
            ``amount_too_large``, a term refusal (`term_check`, R31), a custom field's refusal,
            a control character or unprintable text, as `contract_create` refuses them; an
            unknown field name (``field``).

    Audited as ``contract.update`` with the values before and after, in the transaction that
    changes them; the draft's row is locked, so a send either sees the change or refuses it.
    """
    require_contract_change(actor, contract)
    unknown = set(changes) - set(DETAIL_FIELDS)
    if unknown:
        raise ContractError(
            _("変更できない項目です: %(names)s") % {"names": ", ".join(sorted(unknown))},
            code="field",
            field=sorted(unknown)[0],
        )
    with transaction.atomic():
        current = _lock_draft(contract.pk)
        before = {name: getattr(current, name) for name in DETAIL_FIELDS}
        after = {**before, **changes}
        _check(after)
        for name in ("title", "management_number", "counterparty_company"):
            after[name] = after[name].strip()
        if custom_values:
            # The given values over the stored ones, all checked together (a required field
            # must keep a value); a field given empty loses its value.
            values = CustomValue.objects.filter(contract=current, field__active=True)
            stored = {v.field_id: v.shown for v in values}
            cleaned = custom_values_clean(current.organisation_id, {**stored, **custom_values})
            custom_values_store(current, cleaned)
            values.exclude(field__in=list(cleaned)).delete()
        changed = {name: after[name] for name in DETAIL_FIELDS if after[name] != before[name]}
        if changed:
            Contract.objects.filter(pk=current.pk).update(**changed)
            _touch(current)
        if changed or custom_values:
            audit_record(
                event="contract.update",
                organisation=current.organisation,
                actor=actor,
                subject=current.audit_subject,
                detail={
                    "before": {name: before[name] for name in changed},
                    "after": changed,
                    "custom_fields": sorted(custom_values or {}),
                },
                meta=meta,
            )
        current.refresh_from_db()
    return current


def _check(values: Mapping[str, Any]) -> None:
    title, amount = values["title"], values["amount"]
    if not isinstance(title, str) or not title.strip():
        raise ContractError(_("案件名を入力してください。"), code="title_required", field="title")
    period_start: date | None = values["period_start"]
    term_check(
        period_start=period_start,
        period_end=values["period_end"],
        auto_renew=bool(values["auto_renew"]),
        notice_deadline=values["notice_deadline"],
    )
    if amount is not None and amount < 0:
        raise ContractError(_("取引金額は0以上で入力してください。"), code="amount", field="amount")
    if amount is not None and amount > MAX_AMOUNT:
        raise ContractError(_("取引金額が大きすぎます。"), code="amount_too_large", field="amount")
    require_single_line(
        title=("案件名", title),
        management_number=("管理番号", values["management_number"]),
        counterparty_company=("相手方（会社名）", values["counterparty_company"]),
    )
    require_text(note=("備考", values["note"]))
    require_printable(案件名=title, 管理番号=values["management_number"])
