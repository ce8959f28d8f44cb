"""The 「削除・訂正の履歴」 of a contract's sureties and attachments (R32; 電子帳簿保存法's
訂正削除の履歴): what was corrected (each field before and after), what was removed, by whom,
when and why, with the SHA-256 of every file concerned. Read for the contract's page, by staff
who may read the contract (the caller has it from `selectors.contract_for`).

The 認証キー is never shown from the history: a correction of it reads only 「変更」.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from keiyaku.contracts.models import Attachment, Contract, Surety, SuretyCorrection, SuretyKind
from keiyaku.contracts.services.sureties import surety_auth_key

__all__ = ["Change", "Correction", "History", "contract_history"]


@dataclass(frozen=True)
class Change:
    """One field a correction changed, as the page shows it."""

    label: str
    before: str
    after: str
    before_sha256: str = ""
    """For the notice PDF: the SHA-256 of the file before (and after) the correction."""
    after_sha256: str = ""


@dataclass(frozen=True)
class Correction:
    """One correction of a surety: who, when, why, and the fields it changed."""

    surety: Surety
    correction: SuretyCorrection
    changes: list[Change]


@dataclass(frozen=True)
class History:
    """A contract's corrections and removals, oldest first."""

    corrections: list[Correction]
    removed_sureties: list[Surety]
    removed_attachments: list[Attachment]

    @property
    def count(self) -> int:
        return len(self.corrections) + len(self.removed_sureties) + len(self.removed_attachments)


def _text(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, int):
        return _("%(amount)s 円") % {"amount": f"{value:,}"}  # as the yen filter writes it
    return str(value)


def _changes(before: Surety | SuretyCorrection, after: Surety | SuretyCorrection) -> list[Change]:
    changes = []
    if before.kind != after.kind:
        changes.append(
            Change(
                _("保証の種類"),
                str(SuretyKind(before.kind).label),
                str(SuretyKind(after.kind).label),
            )
        )
    for field, label in (
        ("issuer", _("保証事業会社")),
        ("number", _("保証契約番号")),
        ("amount", _("保証金額")),
        ("period_start", _("保証期間（開始）")),
        ("period_end", _("保証期間（終了）")),
    ):
        old, new = getattr(before, field), getattr(after, field)
        if old != new:
            changes.append(Change(label, _text(old), _text(new)))
    if surety_auth_key(before) != surety_auth_key(after):
        # Whether one was set, never the key itself.
        changes.append(
            Change(
                _("認証キー"),
                _("設定あり") if before.auth_key_sealed else "—",
                _("変更") if after.auth_key_sealed else _("削除"),
            )
        )
    if before.notice_id != after.notice_id:
        old_notice, new_notice = before.notice, after.notice
        changes.append(
            Change(
                _("認証キーのお知らせ"),
                old_notice.filename if old_notice else "—",
                new_notice.filename if new_notice else "—",
                old_notice.blob.sha256 if old_notice else "",
                new_notice.blob.sha256 if new_notice else "",
            )
        )
    return changes


def contract_history(contract: Contract) -> History:
    """The 「削除・訂正の履歴」 of ``contract``'s sureties and attachments (R32), oldest first:
    each correction with the fields it changed (the values after a correction are those kept
    by the next one, or the surety's current ones), each removed surety and attachment."""
    sureties = list(
        Surety.objects.filter(contract=contract)
        .select_related("notice__blob", "removed_by")
        .prefetch_related(
            Prefetch(
                "corrections",
                queryset=SuretyCorrection.objects.select_related("notice__blob", "corrected_by"),
            )
        )
    )
    corrections = []
    for surety in sureties:
        kept = list(surety.corrections.all())
        for index, correction in enumerate(kept):
            after = kept[index + 1] if index + 1 < len(kept) else surety
            corrections.append(Correction(surety, correction, _changes(correction, after)))
    corrections.sort(key=lambda c: (c.correction.corrected_at, c.correction.pk))
    return History(
        corrections=corrections,
        removed_sureties=sorted(
            (s for s in sureties if s.is_removed), key=lambda s: (s.removed_at, s.pk)
        ),
        removed_attachments=list(
            Attachment.objects.removed()
            .filter(contract=contract)
            .select_related("blob", "removed_by", "added_by")
            .order_by("removed_at", "id")
        ),
    )
