"""What a send will do, shown once before it is done (issue 14, clerk: 「署名依頼を送信する」
sent without a confirmation).

`send_summary` gives the confirmation page its content (documents, parties in order with their
e-mail addresses, boxes per party, the deadline) and a digest of exactly that content.
`contract_send(confirmed=digest)` recomputes the digest under the contract's lock and refuses
when the draft changed after it was confirmed; a second send with the same digest (a double
submit) finds the contract sent with it and does nothing, so the request goes out once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, Contract, Document, Party, PartyKind
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.states import contract_is_editable
from keiyaku.contracts.timefmt import JST

# A signing deadline further away than this is a mistyped year.
MAX_DEADLINE_DAYS = 366


def default_deadline(now: datetime) -> datetime:
    """The end (23:59:59 JST) of the day KEIYAKU_DEADLINE_DAYS after `now`."""
    day = now.astimezone(JST).date() + timedelta(days=settings.KEIYAKU_DEADLINE_DAYS)
    return datetime.combine(day, time(23, 59, 59), tzinfo=JST)


def deadline_check(deadline: datetime, now: datetime) -> datetime:
    """``deadline`` (aware) if a signing deadline may be set to it at ``now``: in the future and
    within MAX_DEADLINE_DAYS. The one rule for a deadline set at sending and a deadline moved
    later (`followup.contract_deadline_change`).

    Raises:
        ContractError: ``deadline_too_far`` beyond MAX_DEADLINE_DAYS, ``deadline`` not in the
            future.
    """
    if deadline > now + timedelta(days=MAX_DEADLINE_DAYS):
        raise ContractError(
            _("署名期限は%(days)d日以内の日付を指定してください。") % {"days": MAX_DEADLINE_DAYS},
            code="deadline_too_far",
            field="deadline",
        )
    if deadline <= now:
        raise ContractError(
            _("署名期限には未来の日時を指定してください。"), code="deadline", field="deadline"
        )
    return deadline


def send_deadline(deadline: datetime | None, now: datetime) -> datetime:
    """The deadline a send records: `deadline`, or KEIYAKU_DEADLINE_DAYS from `now` when None;
    refused as `deadline_check` refuses."""
    return deadline_check(deadline or default_deadline(now), now)


def require_access_codes(parties: list[Party]) -> None:
    """Every external party has an access code (R7): a duplicated draft's have none until the
    sender sets them (`party_set_access_code`).

    Raises:
        ContractError: ``access_code_missing``, naming the parties.
    """
    missing = [p.name for p in parties if p.kind == PartyKind.EXTERNAL and not p.access_code]
    if missing:
        raise ContractError(
            _("アクセスコードが設定されていない署名者がいます: %(names)s")
            % {"names": "、".join(missing)},
            code="access_code_missing",
        )


@dataclass(frozen=True)
class PartyLine:
    """One party as the confirmation lists it."""

    party: Party
    boxes: int
    """Boxes this party fills in, over every document."""


@dataclass(frozen=True)
class DocumentLine:
    document: Document
    boxes: int
    """Boxes on this document, for every party."""


@dataclass(frozen=True)
class SendSummary:
    """The content of the confirmation page and its digest."""

    documents: list[DocumentLine]
    parties: list[PartyLine]
    deadline: datetime
    """Aware; shown in JST."""
    digest: str
    """SHA-256 (hex) of everything above, as `contract_send(confirmed=…)` expects it."""


def summary_digest(contract: Contract, deadline: datetime) -> str:
    """SHA-256 (hex) of what the confirmation shows of `contract` sent with `deadline`: each
    document (id, current version, name), each party (id, order, step, role, kind, company,
    name, e-mail, staff), each box (id, party, document, page, place, kind, label, required)."""
    documents = [
        [d.pk, d.current_version().pk, d.filename]
        for d in contract.documents.order_by("position", "pk")
    ]
    parties = [
        [p.pk, p.position, p.step, p.role, p.kind, p.company, p.name, p.email, p.staff_id]
        for p in contract.parties.order_by("position", "pk")
    ]
    boxes = [
        [b.pk, b.party_id, b.document_id, b.page, b.x, b.y, b.width, b.height, b.kind, b.label]
        + [b.required]
        for b in Box.objects.filter(document__contract=contract).order_by("pk")
    ]
    content = {
        "contract": str(contract.pk),
        "documents": documents,
        "parties": parties,
        "boxes": boxes,
        "deadline": deadline.isoformat(),
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def send_summary(*, contract: Contract, actor: Staff, deadline: datetime | None) -> SendSummary:
    """What `contract_send` would send: for the confirmation page (issue 14).

    `deadline` as the sender typed it (None: the default). Checked as a send checks it, so the
    confirmation page never offers a send that would be refused for these reasons.

    Raises:
        NotAllowed: the actor may not change the contract.
        ContractError: ``not_draft``, ``deadline_too_far``, ``deadline``, ``no_parties``,
            ``no_files``.
    """
    require_contract_change(actor, contract)
    current = Contract.objects.get(pk=contract.pk)
    if not contract_is_editable(current):
        raise ContractError(_("送信済みの案件は変更できません。"), code="not_draft")
    resolved = send_deadline(deadline, timezone.now())
    parties = list(current.parties.order_by("position", "pk"))
    if not any(not p.is_approver for p in parties):
        raise ContractError(_("署名者を1名以上設定してください。"), code="no_parties")
    require_access_codes(parties)
    documents = list(current.documents.order_by("position", "pk"))
    if not documents:
        raise ContractError(_("契約書のPDFを登録してください。"), code="no_files")
    boxes = list(Box.objects.filter(document__contract=current).values("party_id", "document_id"))
    return SendSummary(
        documents=[
            DocumentLine(d, sum(1 for b in boxes if b["document_id"] == d.pk)) for d in documents
        ],
        parties=[PartyLine(p, sum(1 for b in boxes if b["party_id"] == p.pk)) for p in parties],
        deadline=resolved,
        digest=summary_digest(current, resolved),
    )
