"""`periodic_task`: Huey's db_periodic_task that runs once per period across consumers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from huey.contrib.djhuey import db_periodic_task

from keiyaku.jobs.leases import period_claim

logger = logging.getLogger(__name__)


def periodic_task(validate_datetime: Callable[..., bool]) -> Callable[[Callable[[], None]], Any]:
    """Like `db_periodic_task(crontab(...))`, but however many consumers enqueue the task in a
    minute, one run does the work (keiyaku.jobs.leases.period_claim); the others return."""

    def decorator(func: Callable[[], None]) -> Any:
        name = f"{func.__module__}.{func.__name__}"

        @functools.wraps(func)
        def once() -> None:
            claim = period_claim(name)
            if claim is None:
                logger.info("periodic %s: already run by another consumer", name)
                return
            logger.info("periodic %s: running for %s", name, claim)
            func()

        return db_periodic_task(validate_datetime)(once)

    return decorator
