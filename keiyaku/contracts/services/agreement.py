"""What a party does from its link: prove who it is, then agree, reject or forward (R15–R19)."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.links import links_revoke
from keiyaku.contracts.mail_table import MailEvent
from keiyaku.contracts.models import (
    AuthMethod,
    Box,
    Contract,
    ContractStatus,
    Party,
    PartyKind,
    PartyStatus,
    VersionKind,
)
from keiyaku.contracts.services.addresses import require_signer_email
from keiyaku.contracts.services.boxes import box_values_clean
from keiyaku.contracts.services.notify import (
    contract_event_mail,
    party_notify,
    party_tell,
    sender_notify,
)
from keiyaku.contracts.services.printable import require_printable
from keiyaku.contracts.services.routing import advance
from keiyaku.contracts.states import (
    CONTRACT_RUNNING,
    contract_sources,
    party_forwards_made,
    party_sources,
)
from keiyaku.text_input import require_single_line, require_text
from keiyaku.webhooks.models import WebhookEvent
from keiyaku.webhooks.services import webhook_emit

ALREADY_HANDLED = gettext_lazy("この署名依頼はすでに処理されているか、受付を終了しています。")


def _actor_label(party: Party) -> str:
    return f"{party.company} {party.name} <{party.email}>".strip()


def party_verify_access_code(*, party: Party, code: str, meta: RequestMeta) -> bool:
    """Check an access code; the KEIYAKU_ACCESS_CODE_ATTEMPTS-th failure locks the link (R18).

    Counting and locking are one step, whatever runs in parallel: each is a conditional update
    of the party row that holds only while the link is open, in one transaction (the row stays
    locked from the first update to the commit). So exactly that many failures are counted, and
    only the attempt that locks writes the lock's audit entry and queues the sender's e-mail.
    A locked link refuses every code, the right one too, without counting it; the decision reads
    the row, not `party`, which the caller loaded before. The right code starts the count again,
    and only while the link is open. The hash is checked before the transaction, so no lock is
    held meanwhile. A failure is committed even though the caller shows an error: the count
    must survive.
    """
    current = Party.objects.only("access_code", "locked_at").get(pk=party.pk)
    if current.is_locked:
        return False
    right = bool(code) and check_password(code.strip(), current.access_code)
    limit = settings.KEIYAKU_ACCESS_CODE_ATTEMPTS
    with transaction.atomic():
        still_open = Party.objects.filter(pk=party.pk, locked_at__isnull=True)
        if right:
            # The code checked must still be the party's (the sender may set a new one).
            still_right = still_open.filter(access_code=current.access_code)
            return still_right.update(failed_attempts=0) == 1
        if not still_open.update(failed_attempts=F("failed_attempts") + 1):
            return False  # locked meanwhile: refused, not counted
        locked = still_open.filter(failed_attempts__gte=limit).update(locked_at=timezone.now())
        party.refresh_from_db()
        events = ["party.access_code_failed"] + (["party.access_code_locked"] if locked else [])
        for event in events:
            audit_record(
                event=event,
                organisation=party.contract.organisation,
                actor_label=_actor_label(party),
                subject=party.contract.audit_subject,
                detail={"position": party.position, "attempts": party.failed_attempts},
                meta=meta,
            )
        if locked:
            contract_event_mail(contract=party.contract, event=MailEvent.PARTY_LOCKED, actor=party)
    return False


def party_view(*, party: Party, meta: RequestMeta) -> bool:
    """The party opened its request for the first time: past the access code (a counterparty)
    or logged in (staff). Recorded once, while the contract runs: `Party.viewed_at`, the audit
    entry ``party.view`` (「署名依頼の開封」 in the history) and the ``viewed`` webhook event
    (R40). Returns whether this call recorded it. A party whose row already says it viewed
    costs no query (the link's lookup loaded the row).
    """
    if party.viewed_at is not None:
        return False
    with transaction.atomic():
        now = timezone.now()
        changed = Party.objects.filter(
            pk=party.pk, viewed_at__isnull=True, contract__status__in=CONTRACT_RUNNING
        ).update(viewed_at=now)
        if changed != 1:
            return False
        party.viewed_at = now
        audit_record(
            event="party.view",
            organisation=party.contract.organisation,
            actor=party.staff,
            actor_label=_actor_label(party),
            subject=party.contract.audit_subject,
            detail={"position": party.position},
            meta=meta,
        )
        webhook_emit(contract=party.contract, event=WebhookEvent.VIEWED, party=party)
    return True


def _claim(party: Party, to_status: str, **fields: object) -> None:
    """The party must still be waiting for its own action, in a running contract."""
    changed = Party.objects.filter(
        pk=party.pk,
        status__in=party_sources(to_status),
        locked_at__isnull=True,
        contract__status__in=CONTRACT_RUNNING,
    ).update(status=to_status, **fields)
    if changed != 1:
        raise ContractError(ALREADY_HANDLED, code="already_handled")


def party_agree(
    *,
    party: Party,
    shown: Mapping[int, str],
    meta: RequestMeta,
    values: Mapping[str, str] | None = None,
) -> None:
    """Record the agreement (R19) in one transaction; the signature is a job after commit.

    `shown` maps each document id to the SHA-256 of the version the party was shown, which is
    what the record keeps. Any version since sending counts: later ones only add other
    parties' signatures (a parallel signer may agree while another's signature lands).
    Anything else — a missing document, a hash of no such version — is refused.
    """
    given = {int(k): v for k, v in shown.items()}
    current = {}
    for doc in party.contract.documents.all():
        since_send = set(
            doc.versions.filter(kind__in=[VersionKind.PREPARED, VersionKind.SIGNED]).values_list(
                "blob__sha256", flat=True
            )
        )
        if given.get(doc.pk) not in since_send:
            raise ContractError(
                _("表示中の書類が更新されました。もう一度内容を確認してください。"), code="stale"
            )
        current[doc.pk] = given[doc.pk]
    if set(given) != set(current):
        raise ContractError(
            _("表示中の書類が更新されました。もう一度内容を確認してください。"), code="stale"
        )
    box_values = box_values_clean(party, values or {})
    method = AuthMethod.EMAIL_CODE if party.kind == PartyKind.EXTERNAL else AuthMethod.STAFF_LOGIN
    with transaction.atomic():
        now = timezone.now()
        _claim(
            party,
            # An approver's approval is complete here: it puts no signature in the PDF.
            PartyStatus.APPROVED if party.is_approver else PartyStatus.AGREED,
            agreed_at=now,
            agreed_ip=meta.ip,
            agreed_user_agent=meta.user_agent,
            auth_method=method,
            shown_sha256={str(k): v for k, v in current.items()},
        )
        Contract.objects.filter(pk=party.contract_id).update(last_activity_at=now)
        for box_id, value in box_values.items():
            Box.objects.filter(pk=box_id, party=party).update(value=value, filled_at=now)
        audit_record(
            event="party.approve" if party.is_approver else "party.agree",
            organisation=party.contract.organisation,
            actor=party.staff,
            actor_label=_actor_label(party),
            subject=party.contract.audit_subject,
            detail={
                "position": party.position,
                "method": method,
                "documents_sha256": {str(k): v for k, v in current.items()},
                "boxes": {str(k): v for k, v in box_values.items()},
            },
            meta=meta,
        )
        if party.is_approver:
            contract = Contract.objects.get(pk=party.contract_id)
            contract_event_mail(contract=contract, event=MailEvent.APPROVED, actor=party)
            webhook_emit(contract=contract, event=WebhookEvent.APPROVED, party=party)
            advance(contract)
        else:
            webhook_emit(contract=party.contract, event=WebhookEvent.AGREED, party=party)
            transaction.on_commit(lambda: _enqueue_signature(party.pk))


def _enqueue_signature(party_id: int) -> None:
    from keiyaku.contracts.tasks import apply_signature

    apply_signature(party_id)


def party_reject(*, party: Party, reason: str, meta: RequestMeta) -> None:
    """「同意せずに却下する」: the contract stops; the sender is told (R16)."""
    reason = reason.strip()
    if not reason:
        raise ContractError(_("却下の理由を入力してください。"), code="reason_required")
    require_text(reason=("却下の理由", reason))
    with transaction.atomic():
        now = timezone.now()
        _claim(party, PartyStatus.REJECTED, reason=reason[:2000])
        changed = Contract.objects.filter(
            pk=party.contract_id, status__in=contract_sources(ContractStatus.REJECTED)
        ).update(
            status=ContractStatus.REJECTED,
            status_reason=reason[:2000],
            last_activity_at=now,
            ended_at=now,
        )
        if changed != 1:
            raise ContractError(ALREADY_HANDLED, code="already_handled")
        contract = Contract.objects.get(pk=party.contract_id)
        for other in contract.parties.all():
            links_revoke(party=other)
        audit_record(
            event="party.reject",
            organisation=contract.organisation,
            actor=party.staff,
            actor_label=_actor_label(party),
            subject=contract.audit_subject,
            detail={"position": party.position, "reason": reason},
            meta=meta,
        )
        contract_event_mail(contract=contract, event=MailEvent.REJECTED, actor=party, reason=reason)
        webhook_emit(contract=contract, event=WebhookEvent.REJECTED, party=party)


def party_forward(
    *, party: Party, name: str, email: str, company: str = "", note: str = "", meta: RequestMeta
) -> Party:
    """「この書類を転送する」: another person signs instead (R17); both are recorded.

    The new signer keeps the position, the signature field and the access code. A position is
    forwarded at most KEIYAKU_MAX_FORWARDS times, and the forwarded rows count against
    KEIYAKU_MAX_PARTIES, so two addresses forwarding back and forth cannot grow the contract
    or the sender's mail without end. Both are counted with the contract row locked.
    """
    if party.kind != PartyKind.EXTERNAL:
        raise ContractError(_("職員の署名依頼は転送できません。"), code="forward_staff")
    if not party.contract.allow_forwarding:
        raise ContractError(_("この契約では転送が許可されていません。"), code="forward_forbidden")
    name, email = name.strip(), email.strip()
    if not name or not email:
        raise ContractError(_("転送先の氏名とメールアドレスを入力してください。"), code="forward")
    require_single_line(
        company=("会社名", company), name=("氏名", name), email=("メールアドレス", email)
    )
    require_text(note=("メッセージ", note))
    require_printable(会社名=company, 氏名=name, メールアドレス=email)
    email = require_signer_email(email)
    if email.lower() == party.email.lower():
        raise ContractError(_("転送先に自分自身は指定できません。"), code="forward_self")
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=party.contract_id)
        if party_forwards_made(party) >= settings.KEIYAKU_MAX_FORWARDS:
            raise ContractError(
                _("この署名依頼はこれ以上転送できません（転送は%(count)d回までです）。")
                % {"count": settings.KEIYAKU_MAX_FORWARDS},
                code="forward_limit",
            )
        if contract.parties.count() >= settings.KEIYAKU_MAX_PARTIES:
            raise ContractError(
                _("署名者の数が上限（%(count)d名）に達しているため、転送できません。")
                % {"count": settings.KEIYAKU_MAX_PARTIES},
                code="too_many_parties",
            )
        _claim(party, PartyStatus.FORWARDED, reason=note[:2000])
        party.status, party.reason = PartyStatus.FORWARDED, note[:2000]
        links_revoke(party=party)
        successor = Party.objects.create(
            contract=party.contract,
            position=party.position,
            step=party.step,
            parallel=party.parallel,
            kind=PartyKind.EXTERNAL,
            company=company.strip() or party.company,
            name=name,
            email=email,
            access_code=party.access_code,
            access_code_digits=party.access_code_digits,
            forwarded_from=party,
        )
        Box.objects.filter(party=party).update(party=successor)
        audit_record(
            event="party.forward",
            organisation=party.contract.organisation,
            actor_label=_actor_label(party),
            subject=party.contract.audit_subject,
            detail={"position": party.position, "to": f"{successor.name} <{successor.email}>"},
            meta=meta,
        )
        party_notify(party=successor, event=MailEvent.FORWARDED)
        party_tell(party=party, event=MailEvent.FORWARDED, successor=successor)
        sender_notify(
            contract=party.contract, event=MailEvent.FORWARDED, party=party, successor=successor
        )
        webhook_emit(contract=party.contract, event=WebhookEvent.FORWARDED, party=party)
    return successor
