"""Background delivery of queued e-mail."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_task

from keiyaku.jobs.periodic import periodic_task
from keiyaku.notifications.services import mail_deliver, mail_lost_ids, mail_pending_ids


@db_task(retries=5, retry_delay=30)
def deliver_mail(message_id: int) -> None:
    mail_deliver(message_id=message_id)


@periodic_task(crontab(minute="*/5"))
def retry_pending_mail() -> None:
    """Every pending message, including those whose relay failed (their job's retries are
    spent): tried again every five minutes until MAX_ATTEMPTS. Lost jobs are the minute
    sweep's (sweep_lost_mail)."""
    for message_id in mail_pending_ids():
        try:
            mail_deliver(message_id=message_id)
        except Exception:  # noqa: S112 - recorded on the message; the next run retries
            continue


@periodic_task(crontab(minute="*"))
def sweep_lost_mail() -> None:
    """Every minute, as the contracts' sweeper: a message whose job was lost (a process killed
    with it in hand) goes out within KEIYAKU_SWEEP_AFTER_SECONDS and a minute, not at the next
    five-minute retry. A message being sent right now is skipped (its lease)."""
    older_than = timedelta(seconds=settings.KEIYAKU_SWEEP_AFTER_SECONDS)
    for message_id in mail_lost_ids(older_than=older_than):
        try:
            mail_deliver(message_id=message_id)
        except Exception:  # noqa: S112 - recorded on the message; its retries take over
            continue
