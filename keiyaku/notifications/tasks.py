"""Background delivery of queued e-mail."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_task

from keiyaku.jobs.periodic import periodic_task
from keiyaku.notifications.services import mail_deliver, mail_pending_ids


@db_task(retries=5, retry_delay=30)
def deliver_mail(message_id: int) -> None:
    mail_deliver(message_id=message_id)


@periodic_task(crontab(minute="*/5"))
def retry_pending_mail() -> None:
    """Safety net: a message whose task was lost (worker killed) is delivered here."""
    for message_id in mail_pending_ids():
        try:
            mail_deliver(message_id=message_id)
        except Exception:  # noqa: S112 - recorded on the message; the next run retries
            continue
