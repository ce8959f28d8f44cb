"""Background delivery of webhook events: a job per event, and a sweep every minute."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_task

from keiyaku.jobs.periodic import periodic_task
from keiyaku.webhooks.delivery import webhook_deliver, webhooks_due_deliver
from keiyaku.webhooks.services import previous_secrets_drop


@db_task()
def deliver_webhook(delivery_id: int) -> None:
    """The first attempt, queued when the event commits (or a resend, a test event)."""
    webhook_deliver(delivery_id=delivery_id)


@periodic_task(crontab(minute="*"))
def webhooks_due() -> None:
    """Every minute: each delivery whose next attempt is due (the retries, and a first attempt
    whose job was lost), then the previous secrets whose rotation period ended."""
    webhooks_due_deliver()
    previous_secrets_drop()
