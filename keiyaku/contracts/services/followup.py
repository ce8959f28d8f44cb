"""The sender's work after sending (R10, R11, R18): cancel, remind, deadlines, unlock, re-address."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.links import links_revoke
from keiyaku.contracts.mail_table import MailEvent
from keiyaku.contracts.models import Contract, ContractStatus, Party, PartyKind
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.services.addresses import require_signer_email
from keiyaku.contracts.services.drafting import access_code_fields
from keiyaku.contracts.services.notify import contract_event_mail, party_notify
from keiyaku.contracts.services.printable import require_printable
from keiyaku.contracts.states import (
    CONTRACT_OPEN,
    CONTRACT_RUNNING,
    PARTY_ASKED,
    contract_can_change_deadline,
    contract_can_remind,
    party_can_readdress,
    party_can_unlock,
)
from keiyaku.text_input import require_single_line, require_text
from keiyaku.webhooks.models import WebhookEvent
from keiyaku.webhooks.services import webhook_emit


def contract_cancel(
    *, contract: Contract, actor: Staff, reason: str, meta: RequestMeta = SYSTEM
) -> None:
    """取消 (R10): any time before completion. Links die; everybody already asked is told."""
    require_contract_change(actor, contract)
    reason = reason.strip()
    if not reason:
        raise ContractError(_("取消の理由を入力してください。"), code="reason_required")
    require_text(reason=("取消の理由", reason))
    with transaction.atomic():
        now = timezone.now()
        changed = Contract.objects.filter(pk=contract.pk, status__in=CONTRACT_OPEN).update(
            status=ContractStatus.CANCELLED,
            status_reason=reason[:2000],
            last_activity_at=now,
            ended_at=now,
        )
        if changed != 1:
            raise ContractError(_("締結済み・終了済みの案件は取り消せません。"), code="finished")
        contract.refresh_from_db()
        for party in contract.parties.all():
            links_revoke(party=party)
        contract_event_mail(contract=contract, event=MailEvent.CANCELLED, reason=reason)
        audit_record(
            event="contract.cancel",
            organisation=contract.organisation,
            actor=actor,
            subject=contract.audit_subject,
            detail={"reason": reason},
            meta=meta,
        )
        webhook_emit(contract=contract, event=WebhookEvent.CANCELLED)


def contract_remind(*, contract: Contract, actor: Staff | None, meta: RequestMeta = SYSTEM) -> int:
    """Remind every party whose turn it is (R11). Each gets a fresh link; old links die.

    `actor` None is keiyaku itself (the reminder before the deadline, `deadlines_check`);
    staff need the right to change the contract. Returns how many parties were reminded.
    """
    if actor is not None:
        require_contract_change(actor, contract)
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        if not contract_can_remind(contract):
            raise ContractError(_("署名中の案件だけリマインドできます。"), code="not_in_progress")
        parties = list(contract.parties.filter(status__in=PARTY_ASKED))
        for party in parties:
            links_revoke(party=party)
            party_notify(party=party, event=MailEvent.REMINDER)
        Contract.objects.filter(pk=contract.pk).update(last_activity_at=timezone.now())
        audit_record(
            event="contract.remind",
            organisation=contract.organisation,
            actor=actor,
            subject=contract.audit_subject,
            detail={"parties": [p.email for p in parties], "automatic": actor is None},
            meta=meta,
        )
    return len(parties)


def contract_deadline_change(
    *, contract: Contract, actor: Staff, deadline: datetime, meta: RequestMeta = SYSTEM
) -> None:
    """Move a running contract's signing deadline (R11, issue 14), e.g. extend it for a party
    who needs more time. Every signing link already sent lives until the new deadline
    (`contracts.links.link_expiry`), so nobody needs a new mail; a deadline moved beyond the
    automatic reminder's window gets that reminder again.

    `deadline` is aware; it must lie in the future and within MAX_DEADLINE_DAYS. Refused
    with `ContractError` (`deadline`, `deadline_too_far`, `not_in_progress`) and `NotAllowed`
    without the right to change the contract. Audited as `contract.deadline` (before, after).
    """
    from keiyaku.contracts.services.confirmation import deadline_check

    require_contract_change(actor, contract)
    now = timezone.now()
    deadline_check(deadline, now)
    with transaction.atomic():
        current = Contract.objects.select_for_update().get(pk=contract.pk)
        if not contract_can_change_deadline(current):
            raise ContractError(
                _("署名中の案件だけ署名期限を変更できます。"), code="not_in_progress"
            )
        before = current.deadline
        fields: dict[str, object] = {"deadline": deadline, "last_activity_at": now}
        if deadline > now + timedelta(days=settings.KEIYAKU_REMIND_DAYS_BEFORE):
            fields["reminded_at"] = None
        Contract.objects.filter(pk=contract.pk).update(**fields)
        contract.deadline = deadline
        audit_record(
            event="contract.deadline",
            organisation=current.organisation,
            actor=actor,
            subject=current.audit_subject,
            detail={
                "before": before.isoformat() if before else "",
                "after": deadline.isoformat(),
            },
            meta=meta,
        )
        contract_event_mail(contract=current, event=MailEvent.DEADLINE_CHANGED)


def deadlines_check(*, now: datetime | None = None) -> tuple[int, int]:
    """The periodic job (R11): remind once N days before the deadline; expire after it.

    Returns (reminded contracts, expired contracts). `now` is a parameter for tests.
    """
    now = now or timezone.now()
    running = Contract.objects.filter(status__in=CONTRACT_RUNNING, deadline__isnull=False)
    reminded = 0
    window = now + timedelta(days=settings.KEIYAKU_REMIND_DAYS_BEFORE)
    for contract in running.filter(
        reminded_at__isnull=True, deadline__gt=now, deadline__lte=window
    ):
        # Claim first, so two workers never remind twice.
        if Contract.objects.filter(pk=contract.pk, reminded_at__isnull=True).update(
            reminded_at=now
        ):
            contract_remind(contract=contract, actor=None)
            reminded += 1
    expired = 0
    for contract in running.filter(deadline__lte=now):
        with transaction.atomic():
            changed = Contract.objects.filter(pk=contract.pk, status__in=CONTRACT_RUNNING).update(
                status=ContractStatus.EXPIRED, last_activity_at=now, ended_at=now
            )
            if not changed:
                continue
            contract.refresh_from_db()
            for party in contract.parties.all():
                links_revoke(party=party)
            audit_record(
                event="contract.expire",
                organisation=contract.organisation,
                subject=contract.audit_subject,
                detail={"deadline": contract.deadline.isoformat() if contract.deadline else ""},
            )
            contract_event_mail(contract=contract, event=MailEvent.EXPIRED)
            webhook_emit(contract=contract, event=WebhookEvent.EXPIRED)
            expired += 1
    return reminded, expired


def _lock_external(party: Party, *, unlock: bool) -> Party:
    """The party and its contract, read again under locks, refused unless the sender may
    still unlock the party (`unlock`) or correct its address."""
    # The party first, then the contract: the order in which an agreement takes them.
    party = Party.objects.select_for_update().get(pk=party.pk)
    party.contract = Contract.objects.select_for_update().get(pk=party.contract_id)
    if party.kind != PartyKind.EXTERNAL:
        raise ContractError(_("事業者の署名者だけが対象です。"), code="not_external")
    allowed = party_can_unlock(party) if unlock else party_can_readdress(party)
    if not allowed:
        raise ContractError(_("この署名者は変更できません。"), code="party_done")
    return party


def party_unlock(
    *, party: Party, actor: Staff, access_code: str = "", meta: RequestMeta = SYSTEM
) -> None:
    """Unlock a locked link and, optionally, set a new access code (R18; never e-mailed)."""
    require_contract_change(actor, party.contract)
    fields: dict[str, object] = {"failed_attempts": 0, "locked_at": None}
    with transaction.atomic():
        party = _lock_external(party, unlock=True)
        if access_code.strip():
            # The organisation as it is now: its admins may have raised the minimum length.
            fields |= access_code_fields(access_code, organisation=party.contract.organisation)
        Party.objects.filter(pk=party.pk).update(**fields)
        audit_record(
            event="party.unlock",
            organisation=party.contract.organisation,
            actor=actor,
            subject=party.contract.audit_subject,
            detail={"position": party.position, "new_code": "access_code" in fields},
            meta=meta,
        )


def party_change_email(
    *, party: Party, actor: Staff, email: str, meta: RequestMeta = SYSTEM
) -> None:
    """Correct an address that could not be delivered and send the request again."""
    require_contract_change(actor, party.contract)
    email = email.strip()
    require_single_line(email=("メールアドレス", email))
    require_printable(メールアドレス=email)
    email = require_signer_email(email)
    with transaction.atomic():
        party = _lock_external(party, unlock=False)
        old = party.email
        Party.objects.filter(pk=party.pk).update(email=email)
        party.refresh_from_db()
        if party.status in PARTY_ASKED:
            links_revoke(party=party)
            party_notify(party=party, event=MailEvent.READDRESSED)
        audit_record(
            event="party.change_email",
            organisation=party.contract.organisation,
            actor=actor,
            subject=party.contract.audit_subject,
            detail={"position": party.position, "from": old, "to": email},
            meta=meta,
        )
