"""Corrections and removals of a contract's sureties and attachments (R32), keeping their
history (電子帳簿保存法's 訂正削除の履歴: a correction or a deletion must stay provable).

A clerk who typed a wrong 保証契約番号 or attached the wrong PDF corrects or removes it; nothing
is destroyed:

- `surety_correct` keeps the surety's previous values as a `SuretyCorrection` (who, when, the
  clerk's reason) and writes the corrected ones on the surety's row;
- `surety_remove` and `attachment_remove` mark the row removed (who, when, the reason); the
  row and its stored file stay.

Search, the contract's lists and a result's ZIP see only current rows
(`RemovableQuerySet.current`); the contract's 「削除・訂正の履歴」 and the organisation's export
(R34) show the rest (`contracts.surety_history`). All are allowed in any state of the contract
(neither sureties nor attachments are part of the signed documents) by staff who may change
it (`require_contract_change`), under the contract's row lock, and audited in the same
transaction with the old and new values; the 認証キー only as whether one is set, never in
clear.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Attachment, Contract, Surety, SuretyCorrection
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.services.drafting import Upload
from keiyaku.contracts.services.sureties import (
    SuretyValues,
    _attachment_create,
    _require_room,
    _store,
    _surety_check,
    surety_auth_key,
)
from keiyaku.storage import crypto
from keiyaku.storage.blobs import blob_discard
from keiyaku.text_input import require_text

__all__ = ["REASON_MAX", "attachment_remove", "surety_correct", "surety_remove"]


REASON_MAX = 1000
"""Characters of a correction's or removal's reason."""


def _reason(reason: str, label: str) -> str:
    """The clerk's reason for a correction or a removal, required: the 訂正削除の履歴 says why."""
    reason = reason.strip()
    if not reason:
        raise ContractError(
            _("%(label)sを入力してください。") % {"label": _(label)},
            code="reason_required",
            field="reason",
        )
    require_text(reason=(label, reason))
    if len(reason) > REASON_MAX:
        raise ContractError(
            _("%(label)sは%(max)s文字以内で入力してください。")
            % {"label": _(label), "max": REASON_MAX},
            code="reason_too_long",
            field="reason",
        )
    return reason


def _file(attachment: Attachment | None) -> dict[str, object] | None:
    """An attachment as audit entries name it."""
    if attachment is None:
        return None
    return {
        "attachment": attachment.pk,
        "filename": attachment.filename,
        "size": attachment.blob.size,
        "sha256": attachment.blob.sha256,
    }


def _mark_removed(attachment: Attachment, actor: Staff, now: datetime, reason: str) -> bool:
    """Mark a current attachment removed (a conditional update: False if it was already)."""
    return bool(
        Attachment.objects.filter(pk=attachment.pk, removed_at__isnull=True).update(
            removed_at=now, removed_by=actor, removed_reason=reason
        )
    )


def attachment_remove(
    *, attachment: Attachment, actor: Staff, reason: str, meta: RequestMeta = SYSTEM
) -> Attachment:
    """Remove an attachment of a contract (R32), in any state: it leaves the contract's list,
    a result's ZIP and search, but is **not destroyed** (電子帳簿保存法's 訂正削除の履歴): the row
    and its stored file stay, marked with who removed it, when and ``reason`` (required, at most
    `REASON_MAX` characters), and are shown in the contract's 「削除・訂正の履歴」 with their
    SHA-256 and carried by the organisation's export (R34). A surety whose notice it was keeps
    its link (its history shows the file removed). Audited as ``contract.attachment_remove``
    (file name, size, SHA-256, reason).

    Raises:
        NotAllowed: the actor may not change the contract (`require_contract_change`).
        ContractError: ``reason_required``, ``reason_too_long``, a control character in the
            reason; ``already_removed``.
    """
    contract = attachment.contract
    require_contract_change(actor, contract)
    reason = _reason(reason, "削除の理由")
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        now = timezone.now()
        current = Attachment.objects.select_related("blob").get(pk=attachment.pk)
        if not _mark_removed(current, actor, now, reason):
            raise ContractError(
                _("この添付ファイルはすでに削除されています。"), code="already_removed"
            )
        Contract.objects.filter(pk=locked.pk).update(last_activity_at=now)
        detail = _file(current) or {}
        notice_of = Surety.objects.filter(notice=current).first()
        if notice_of is not None:
            detail["notice_of"] = {"surety": notice_of.pk, "number": notice_of.number}
        audit_record(
            event="contract.attachment_remove",
            organisation=locked.organisation,
            actor=actor,
            subject=locked.audit_subject,
            detail={**detail, "reason": reason},
            meta=meta,
        )
    current.refresh_from_db()
    return current


def _values_of(surety: Surety | SuretyCorrection) -> dict[str, object]:
    """A surety's values as audit entries and the history compare them (never the 認証キー)."""
    return {
        "kind": surety.kind,
        "issuer": surety.issuer,
        "number": surety.number,
        "amount": surety.amount,
        "period_start": surety.period_start.isoformat() if surety.period_start else None,
        "period_end": surety.period_end.isoformat() if surety.period_end else None,
    }


def surety_correct(
    *,
    surety: Surety,
    actor: Staff,
    values: SuretyValues,
    reason: str,
    notice: Upload | None = None,
    corrections_seen: int | None = None,
    meta: RequestMeta = SYSTEM,
) -> Surety:
    """Correct a surety's fields (R32), in any state of the contract, keeping what it held
    before as a `SuretyCorrection` (電子帳簿保存法's 訂正削除の履歴) with who, when and ``reason``
    (required, at most `REASON_MAX` characters). ``values`` are the corrected ones, checked as
    `surety_add` checks them; an empty 認証キー removes it. ``notice``: a new 「認証キーのお知らせ」
    PDF, which replaces the current one (that one is removed with the same reason, not
    destroyed). Search finds only the current 保証契約番号.

    ``corrections_seen``: how many corrections the surety had when the clerk opened the form;
    if another correction came first, this one is refused rather than overwrite it unseen.

    Audited as ``contract.surety_correct``: each changed field before and after, the 認証キー
    only as whether one was set (``auth_key``: ``{"before": bool, "after": bool}``), never in
    clear.

    Raises:
        NotAllowed: the actor may not change the contract (`require_contract_change`).
        ContractError: those of `surety_add`'s values; ``reason_required``,
            ``reason_too_long``; ``no_change`` (nothing differs); ``removed`` (the surety was
            removed); ``stale`` (corrected meanwhile); for the notice those of
            `attachment_check` and ``too_many_attachments``.
    """
    contract = surety.contract
    require_contract_change(actor, contract)
    number = _surety_check(values)
    reason = _reason(reason, "訂正の理由")
    new_key = values.auth_key.strip()
    stored = _store(contract, notice) if notice is not None else None
    try:
        with transaction.atomic():
            locked = Contract.objects.select_for_update().get(pk=contract.pk)
            current = Surety.objects.select_related("notice__blob").get(pk=surety.pk)
            if current.is_removed:
                raise ContractError(
                    _("この電子保証は削除されています。訂正できません。"), code="removed"
                )
            if corrections_seen is not None and current.corrections.count() != corrections_seen:
                raise ContractError(
                    _(
                        "この電子保証は、ほかの職員が先に訂正しました。"
                        "訂正後の内容を確かめてから、もう一度訂正してください。"
                    ),
                    code="stale",
                )
            old_key = surety_auth_key(current)
            before = _values_of(current)
            after = {
                "kind": values.kind,
                "issuer": values.issuer.strip(),
                "number": values.number.strip(),
                "amount": values.amount,
                "period_start": values.period_start.isoformat() if values.period_start else None,
                "period_end": values.period_end.isoformat() if values.period_end else None,
            }
            changes: dict[str, object] = {
                field: {"before": before[field], "after": after[field]}
                for field in before
                if before[field] != after[field]
            }
            if old_key != new_key:
                changes["auth_key"] = {"before": bool(old_key), "after": bool(new_key)}
            if not changes and stored is None:
                raise ContractError(
                    _("訂正する項目がありません。正しい内容に書き換えてから訂正してください。"),
                    code="no_change",
                )
            old_notice = current.notice
            if stored is not None:
                _require_room(
                    locked, freed=1 if old_notice is not None and not old_notice.is_removed else 0
                )
            now = timezone.now()
            SuretyCorrection.objects.create(
                surety=current,
                kind=current.kind,
                issuer=current.issuer,
                number=current.number,
                auth_key_sealed=current.auth_key_sealed,
                amount=current.amount,
                period_start=current.period_start,
                period_end=current.period_end,
                notice=old_notice,
                corrected_by=actor,
                corrected_at=now,
                reason=reason,
            )
            current.kind = values.kind
            current.issuer = values.issuer.strip()
            current.number = values.number.strip()
            current.number_normalised = number
            if old_key != new_key:
                current.auth_key_sealed = (
                    crypto.seal_text(new_key, purpose=crypto.SURETY_KEY_PURPOSE) if new_key else ""
                )
            current.amount = values.amount
            current.period_start = values.period_start
            current.period_end = values.period_end
            if stored is not None:
                if old_notice is not None:
                    _mark_removed(old_notice, actor, now, reason)
                new_notice = _attachment_create(locked, actor, stored[0], stored[1], now)
                current.notice = new_notice
                changes["notice"] = {"before": _file(old_notice), "after": _file(new_notice)}
            current.save()
            Contract.objects.filter(pk=locked.pk).update(last_activity_at=now)
            audit_record(
                event="contract.surety_correct",
                organisation=locked.organisation,
                actor=actor,
                subject=locked.audit_subject,
                detail={
                    "surety": current.pk,
                    "number": current.number,
                    "changes": changes,
                    "reason": reason,
                },
                meta=meta,
            )
    except BaseException:
        if stored:
            blob_discard(stored[1])
        raise
    return current


def surety_remove(
    *, surety: Surety, actor: Staff, reason: str, meta: RequestMeta = SYSTEM
) -> Surety:
    """Remove a surety recorded by mistake (R32), in any state of the contract, with its
    「認証キーのお知らせ」 if that is still current: both leave the contract's lists and search
    (its 保証契約番号 no longer finds the contract) but are **not destroyed** (電子帳簿保存法's
    訂正削除の履歴): marked with who, when and ``reason`` (required, at most `REASON_MAX`
    characters), shown in the contract's 「削除・訂正の履歴」 and carried by the organisation's
    export (R34). Audited as ``contract.surety_remove`` (its values, the notice's SHA-256, the
    reason; the 認証キー only as whether one was set).

    Raises:
        NotAllowed: the actor may not change the contract (`require_contract_change`).
        ContractError: ``reason_required``, ``reason_too_long``, a control character in the
            reason; ``already_removed``.
    """
    contract = surety.contract
    require_contract_change(actor, contract)
    reason = _reason(reason, "削除の理由")
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        now = timezone.now()
        removed = Surety.objects.filter(pk=surety.pk, removed_at__isnull=True).update(
            removed_at=now, removed_by=actor, removed_reason=reason
        )
        if not removed:
            raise ContractError(_("この電子保証はすでに削除されています。"), code="already_removed")
        current = Surety.objects.select_related("notice__blob").get(pk=surety.pk)
        notice = current.notice
        notice_removed = notice is not None and _mark_removed(notice, actor, now, reason)
        Contract.objects.filter(pk=locked.pk).update(last_activity_at=now)
        audit_record(
            event="contract.surety_remove",
            organisation=locked.organisation,
            actor=actor,
            subject=locked.audit_subject,
            detail={
                "surety": current.pk,
                **_values_of(current),
                "auth_key": bool(current.auth_key_sealed),
                "notice": _file(notice) if notice_removed else None,
                "reason": reason,
            },
            meta=meta,
        )
    current.refresh_from_db()
    return current
