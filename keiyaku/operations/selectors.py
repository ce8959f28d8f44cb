"""What the platform operator's page shows: the queue, jobs that failed, mail not delivered,
webhook endpoints that keep failing, the time-stamp authorities.

For the platform operator only (`keiyaku.accounts.permissions.is_operator`): it spans every
organisation. It names organisations and kinds of mail, never recipients, subjects or bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from keiyaku.signing.tsas import TsaState, tsa_states
from keiyaku.webhooks.models import WebhookEndpoint
from keiyaku.webhooks.selectors import endpoints_in_trouble

# A message still waiting after this long has missed its send and retries (minutes).
MAIL_LATE_MINUTES = 15
LISTED = 20


@dataclass(frozen=True)
class FailedJob:
    task_id: str
    error: str
    """The exception as Huey recorded it (its repr, cut to 300 characters)."""


@dataclass(frozen=True)
class OperatorOverview:
    queue_pending: int
    """Jobs waiting for a worker."""
    queue_scheduled: int
    """Jobs waiting for their time (retries, delayed jobs)."""
    failed_jobs: list[FailedJob]
    """Jobs whose every retry failed, as kept in Huey's result store."""
    mail_failed: QuerySet[OutboxMessage]
    mail_late: QuerySet[OutboxMessage]
    mail_failed_count: int
    mail_late_count: int
    tsas: list[TsaState]
    """Each configured time-stamp authority with what it last did (issue 13)."""
    webhooks_failing: list[WebhookEndpoint]
    """Webhook endpoints failing now or with events given up on, every organisation (R40)."""


def failed_jobs(huey: Any) -> list[FailedJob]:
    """Jobs whose last retry failed, from Huey's result store (any Huey storage).

    Huey also stores the error of each attempt that will be retried, and keeps it when a later
    attempt succeeds (keiyaku's jobs return nothing, so nothing replaces it): only errors with
    no retry left are failures.
    """
    from huey.utils import Error

    found = []
    for key, raw in huey.all_results().items():
        try:
            value = huey.serializer.deserialize(raw)
        except Exception:  # noqa: BLE001, S112 - not a result of ours (e.g. a lock), skip it
            continue
        if isinstance(value, Error) and not value.metadata.get("retries"):
            error = str(value.metadata.get("error", ""))[:300]
            found.append(FailedJob(str(value.metadata.get("task_id", key)), error))
    return found


def operator_overview() -> OperatorOverview:
    from huey.contrib.djhuey import HUEY

    late = timezone.now() - timedelta(minutes=MAIL_LATE_MINUTES)
    failed = OutboxMessage.objects.filter(status=OutboxStatus.FAILED)
    waiting = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, created_at__lt=late)
    listed = ("id", "organisation__name", "kind", "attempts", "last_error", "created_at")
    return OperatorOverview(
        queue_pending=HUEY.pending_count(),
        queue_scheduled=HUEY.scheduled_count(),
        failed_jobs=failed_jobs(HUEY),
        mail_failed=failed.select_related("organisation").only(*listed).order_by("-id")[:LISTED],
        mail_late=waiting.select_related("organisation").only(*listed).order_by("id")[:LISTED],
        mail_failed_count=failed.count(),
        mail_late_count=waiting.count(),
        tsas=tsa_states(),
        webhooks_failing=list(endpoints_in_trouble()[:LISTED]),
    )
