"""Queueing and delivering e-mail.

`mail_queue` writes the message in the caller's transaction and schedules delivery after commit,
so a message exists exactly when the event that caused it does. Delivery is retried.
`mail_connection` decides, for every message, whether it is sent or captured (R46).
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from keiyaku.storage.blobs import blob_get
from keiyaku.storage.models import Blob

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
    """Render `notifications/mail/<template>.txt` (first line is the subject) and queue it."""
    # Recipients have no language of their own yet: mail goes out in the service's language,
    # whatever language the person who caused it is using.
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string(f"notifications/mail/{template}.txt", context).strip()
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


def mail_deliver(*, message_id: int) -> bool:
    """Send one queued message. Idempotent: a sent message is not sent again."""
    counted = OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.PENDING).update(
        attempts=F("attempts") + 1
    )
    if not counted:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        connection=mail_connection(organisation=message.organisation, contract=message.contract),
    )
    for item in message.attachments:
        email.attach(
            item["filename"], blob_get(Blob.objects.get(pk=item["blob"])), "application/pdf"
        )
    try:
        email.send()
    except Exception as exc:  # any transport failure: keep it, retry, show it to the sender
        permanent = is_permanent_failure(exc)
        status = (
            OutboxStatus.FAILED
            if permanent or message.attempts >= MAX_ATTEMPTS
            else OutboxStatus.PENDING
        )
        OutboxMessage.objects.filter(pk=message_id).update(
            status=status, last_error=describe_failure(exc)[:2000]
        )
        if permanent:
            return False  # retrying cannot help: the sender must correct the address
        raise
    OutboxMessage.objects.filter(pk=message_id).update(
        status=OutboxStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


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
