"""Periodic work of the API (R40)."""

from __future__ import annotations

import logging

from huey import crontab

from keiyaku.api.gate import idempotent_requests_forget
from keiyaku.jobs.periodic import periodic_task

logger = logging.getLogger(__name__)


@periodic_task(crontab(minute="41"))
def forget_idempotency_keys() -> None:
    """Hourly: forget the Idempotency-Keys older than a day (`gate.IDEMPOTENCY_DAYS`), so a
    key can be used again the next day and the table stays small."""
    forgotten = idempotent_requests_forget()
    if forgotten:
        logger.info("api: %s idempotency keys forgotten", forgotten)
