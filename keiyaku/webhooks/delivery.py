"""Delivering webhook events: one signed POST per attempt, retried on a fixed schedule (R40).

An attempt POSTs the delivery's body, unchanged, to the endpoint's URL through
`keiyaku.outbound_http.fetch` (internal addresses refused, the address pinned, one deadline),
with the headers ``Keiyaku-Event-Id``, ``Keiyaku-Event-Type`` and ``Keiyaku-Signature``
(`signature.py`). Any 2xx answer ends the delivery. Anything else (another status, a redirect,
which is not followed, a refusal, a timeout, no connection) is recorded and the next attempt is
scheduled `RETRY_DELAYS` after this one; after the last, the delivery is given up on (``failed``)
and stays on the admins' screen with its log, to be sent again by hand (「再送」).

Once only: an attempt is claimed by a conditional update (pending and due), under the
delivery's lease (``webhook:<id>``, keiyaku.jobs.leases), so the queued job and the minute
sweep never send one event twice at the same time, and a delivered event is never sent again
by them. A process killed after the receiver answered but before the row says so sends the
event once more, with the same event id: receivers drop an id they have already handled
(docs/api.md, "Webhooks").
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from keiyaku.jobs.leases import LeaseBusy, lease_hold
from keiyaku.outbound_http import OutboundError, OutboundRefused, fetch
from keiyaku.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from keiyaku.webhooks.services import secrets_valid
from keiyaku.webhooks.signature import HEADER, signature_header

log = logging.getLogger(__name__)

#: The wait after each failed attempt of a series (the first attempt is at once): 1 min, 5 min,
#: 30 min, 2 h, 6 h, 12 h, then 24 h three times. Ten attempts over 3 days 20 h 36 min
#: (docs/api.md, "Retries"). After the tenth fails, the delivery is given up on.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
    timedelta(hours=24),
    timedelta(hours=24),
)
ATTEMPTS = len(RETRY_DELAYS) + 1
ANSWER_MAX_BYTES = 64 * 1024
"""The largest answer read (its body is not used)."""
USER_AGENT = "keiyaku-webhooks/1"
DUE_BATCH = 500


def retry_delay(failed: int) -> timedelta | None:
    """The wait after the `failed`-th failed attempt of a series (1-based), or None when that
    was the last one."""
    return RETRY_DELAYS[failed - 1] if 1 <= failed <= len(RETRY_DELAYS) else None


def webhook_due_ids(*, now: datetime | None = None) -> list[int]:
    """Deliveries waiting for an attempt whose time has come, the longest waiting first (at most
    DUE_BATCH: the next minute's sweep takes the rest)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )


def webhooks_due_deliver(*, now: datetime | None = None) -> int:
    """The minute sweep: attempt every delivery due by `now` (`webhook_due_ids`); returns how
    many the receivers took."""
    return sum(webhook_deliver(delivery_id=i) for i in webhook_due_ids(now=now))


def webhook_deliver(*, delivery_id: int) -> bool:
    """Make the next attempt of one delivery, if it is due; True when the receiver took it (2xx).

    Idempotent: a delivery that is not pending, or not due yet, is left alone; one being
    attempted by another job right now (its lease) too. Never raises for the receiver's
    failures: they are recorded on the attempt and the endpoint, and the next attempt is
    scheduled (`RETRY_DELAYS`).
    """
    try:
        with lease_hold(f"webhook:{delivery_id}", wait=0):
            return _attempt(delivery_id)
    except LeaseBusy:
        return False


def _attempt(delivery_id: int) -> bool:
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1)
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = delivery.body.encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Keiyaku-Event-Id": str(delivery.event_id),
        "Keiyaku-Event-Type": delivery.event_type,
        HEADER: signature_header(secrets_valid(endpoint, now=now), timestamp, body),
    }
    status_code: int | None = None
    error = ""
    started = time.monotonic()
    try:
        answer = fetch(
            endpoint.url,
            method="POST",
            headers=headers,
            body=body,
            timeout=settings.KEIYAKU_WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=ANSWER_MAX_BYTES,
        )
        status_code = answer.status
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except OutboundRefused as refused:
        error = refused.message
    except OutboundError as exc:
        error = str(exc)
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = not error
    if not ok:
        log.info("webhook %s to endpoint %s failed: %s", delivery.event_id, endpoint.pk, error)
    try:
        with transaction.atomic():
            WebhookAttempt.objects.create(
                delivery=delivery,
                number=delivery.attempts,
                started_at=now,
                status_code=status_code,
                error=error[:500],
                duration_ms=duration_ms,
            )
            _record(delivery, endpoint, now=now, ok=ok, error=error)
    except IntegrityError:
        return False  # the endpoint was deleted meanwhile: nothing to record
    return ok


def _record(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, now: datetime, ok: bool, error: str
) -> None:
    deliveries = WebhookDelivery.objects.filter(pk=delivery.pk)
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if ok:
        deliveries.update(status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None)
        endpoints.update(failures=0, failing_since=None, last_error="", last_success_at=now)
        return
    delay = retry_delay(delivery.attempts - delivery.series_start)
    if delay is None:
        deliveries.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        deliveries.update(next_attempt_at=now + delay)
    endpoints.update(failures=F("failures") + 1, last_error=error[:500])
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
