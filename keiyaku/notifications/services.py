"""Queueing and delivering e-mail.

`mail_queue` writes the message in the caller's transaction and schedules delivery after commit,
so a message exists exactly when the event that caused it does. Delivery is retried.
`mail_connection` decides, for every message, whether it is sent or captured (R46).
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from datetime import UTC, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone, translation

from keiyaku.jobs.leases import LeaseBusy, lease_hold
from keiyaku.notifications.mail_html import mail_html
from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from keiyaku.storage.blobs import blob_get
from keiyaku.storage.models import Blob
from keiyaku.webhooks.models import WebhookEvent
from keiyaku.webhooks.services import webhook_emit

MAX_ATTEMPTS = 8
CAPTURE_BACKEND = "keiyaku.notifications.mailbox.CaptureBackend"


def mail_capture_wanted(organisation: Any) -> bool:
    """Whether mail concerning this organisation is kept in the mailbox instead of sent.

    A trial organisation's mail is always captured, whatever the deployment's relay: its staff
    practise with made-up addresses. With KEIYAKU_MAIL_CAPTURE = "all" (the default without
    KEIYAKU_SMTP_HOST) every organisation's mail is captured; with "trial" the others' mail goes
    through settings.EMAIL_BACKEND (SMTP).
    """
    if organisation is not None and organisation.is_trial:
        return True
    return bool(settings.KEIYAKU_MAIL_CAPTURE == "all")


def mail_connection(*, organisation: Any, contract: Any = None) -> BaseEmailBackend:
    """The connection one message goes through: the capture back end or the relay (R46).

    Every message keiyaku sends asks here, so the choice is made in one place. The organisation
    and contract are handed to the back end: a captured message records them, and the mailbox
    shows it only to those who may read it (selectors.captured_mail_visible_to).
    """
    backend = CAPTURE_BACKEND if mail_capture_wanted(organisation) else settings.EMAIL_BACKEND
    return get_connection(backend=backend, organisation=organisation, contract=contract)


def mail_queue(
    *,
    organisation: Any,
    to: str,
    template: str,
    context: dict[str, Any],
    contract: Any = None,
    party: Any = None,
    attachments: Sequence[tuple[Blob, str]] = (),
) -> OutboxMessage:
    """Render `notifications/mail/<template>.txt` (first line is the subject) and queue it.

    The text is rendered without HTML escaping (it is plain text: a company "A&B" stays
    "A&B"); the HTML part is made from it when the mail is sent (`mail_html`), which escapes.
    """
    # Recipients have no language of their own yet: mail goes out in the service's language,
    # whatever language the person who caused it is using.
    with translation.override(settings.LANGUAGE_CODE):
        source = get_template(f"notifications/mail/{template}.txt").template  # type: ignore[attr-defined]
        text = source.render(Context(context, autoescape=False)).strip()
    subject, _, body = text.partition("\n")
    message = OutboxMessage.objects.create(
        organisation=organisation,
        contract=contract,
        party=party,
        kind=template,
        to=to,
        subject=subject.strip(),
        body=body.strip() + "\n",
        attachments=[{"blob": str(blob.pk), "filename": name} for blob, name in attachments],
    )
    transaction.on_commit(lambda: _enqueue(message.pk))
    return message


def _enqueue(message_id: int) -> None:
    from keiyaku.notifications.tasks import deliver_mail

    deliver_mail(message_id)


def outbox_message_id(message: OutboxMessage) -> str:
    """The Message-ID header of an outbox message: ``<outbox-{pk}.{created_at}@{host}>``, the
    host taken from DEFAULT_FROM_EMAIL (KEIYAKU_MAIL_FROM).

    Derived from the row alone, so every delivery attempt of one message carries the same
    Message-ID: when a consumer dies after the relay's 250 but before the row says "sent", the
    retry is the same message to every receiving MTA and mail program, which drop or thread it
    as one (issue 11, acceptance 3; docs/architecture.md, "Mail delivery").
    """
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    host = address.rpartition("@")[2] or "keiyaku.localhost"
    stamp = message.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"<outbox-{message.pk}.{stamp}@{host}>"


def mail_deliver(*, message_id: int) -> bool:
    """Send one queued message; True when this call sent it.

    Idempotent: a sent message is not sent again. One delivery at a time: the message's lease
    (``outbox:<pk>``, keiyaku.jobs.leases) is held while it is sent, and a second delivery that
    finds it held returns False at once — the job and the sweeper (retry_pending_mail), or two
    consumers, both found the message pending, and both sent it. A holder killed mid-send
    frees the lease after KEIYAKU_JOB_LEASE_SECONDS, and the sweeper sends again: if the kill
    came after the relay's 250, the same message (one Message-ID, outbox_message_id) goes out
    a second time (docs/architecture.md, "Mail delivery").
    """
    try:
        with lease_hold(f"outbox:{message_id}", wait=0):
            return _deliver(message_id)
    except LeaseBusy:
        return False  # being sent by somebody else right now


def outbox_email(message: OutboxMessage) -> EmailMultiAlternatives:
    """The e-mail an outbox row is sent as: multipart/alternative, the text as written and the
    same text laid out in HTML (`mail_html`, issue 14), with the attachments from the
    encrypted store, over the connection `mail_connection` chooses."""
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        headers={"Message-ID": outbox_message_id(message)},
        connection=mail_connection(organisation=message.organisation, contract=message.contract),
    )
    # multipart/alternative: the text as written, and the same text laid out in HTML (issue 14).
    email.attach_alternative(mail_html(subject=message.subject, body=message.body), "text/html")
    for item in message.attachments:
        email.attach(
            item["filename"], blob_get(Blob.objects.get(pk=item["blob"])), "application/pdf"
        )
    return email


def _deliver(message_id: int) -> bool:
    counted = OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.PENDING).update(
        attempts=F("attempts") + 1
    )
    if not counted:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    email = outbox_email(message)
    try:
        email.send()
    except Exception as exc:  # any transport failure: keep it, retry, show it to the sender
        permanent = is_permanent_failure(exc)
        status = (
            OutboxStatus.FAILED
            if permanent or message.attempts >= MAX_ATTEMPTS
            else OutboxStatus.PENDING
        )
        with transaction.atomic():
            OutboxMessage.objects.filter(pk=message_id).update(
                status=status, last_error=describe_failure(exc)[:2000]
            )
            if status == OutboxStatus.FAILED:
                _failure_emit(message)
        if permanent:
            return False  # retrying cannot help: the sender must correct the address
        raise
    OutboxMessage.objects.filter(pk=message_id).update(
        status=OutboxStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def _failure_emit(message: OutboxMessage) -> None:
    """A contract's mail is given up on: the ``delivery_failed`` webhook event (R40), with the
    party it was for (its place in the routing, not its address) and the kind of mail."""
    if message.contract_id is None:
        return
    contract = message.contract
    assert contract is not None
    webhook_emit(
        contract=contract,
        event=WebhookEvent.DELIVERY_FAILED,
        party=message.party,
        extra={"mail": message.kind},
    )


def is_permanent_failure(exc: Exception) -> bool:
    """An SMTP 5xx answer (unknown recipient, refused): the same message will never go through."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def describe_failure(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for address, (code, reply) in exc.recipients.items()
        )
    return str(exc)


def mail_pending_ids() -> list[int]:
    return list(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING).values_list("pk", flat=True)
    )


def mail_lost_ids(*, older_than: timedelta) -> list[int]:
    """Pending messages older than `older_than` whose delivery never ended: no attempt failed
    (a failure records its error), so their job was lost — a web process killed between the
    commit and queueing it, a consumer killed before or while it sent. The once-a-minute
    sweep (notifications.tasks.sweep_lost_mail) delivers them; messages whose relay failed
    wait for their retries and the five-minute retry_pending_mail instead (issue 11).
    """
    return list(
        OutboxMessage.objects.filter(
            status=OutboxStatus.PENDING,
            last_error="",
            created_at__lte=timezone.now() - older_than,
        ).values_list("pk", flat=True)
    )
