"""Background jobs of the contract flow. Each loads rows by id and calls one service."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from keiyaku.contracts.services import (
    contract_finalize,
    deadlines_check,
    signature_apply,
    signature_sweep,
)


@db_task(retries=10, retry_delay=30)
def apply_signature(party_id: int) -> None:
    signature_apply(party_id=party_id)


@db_task(retries=10, retry_delay=30)
def finalize_contract(contract_id: str) -> None:
    contract_finalize(contract_id=contract_id)


@db_periodic_task(crontab(minute="*"))
def sweep() -> None:
    """Finish agreements and completions whose job was lost.

    No lock: a lock held by a worker that was killed would stop every later sweep. Two sweeps
    at once only repeat work; the state guards in the services keep one result.
    """
    signature_sweep(older_than=timedelta(seconds=settings.KEIYAKU_SWEEP_AFTER_SECONDS))


@db_periodic_task(crontab(minute="*/5"))
def check_deadlines() -> None:
    """Automatic reminders before the signing deadline, expiry after it (R11).

    Each reminder and expiry is claimed with a conditional update, so overlapping runs are safe.
    """
    deadlines_check()


@on_startup()
def resume_after_restart() -> None:
    """A restarted worker first finishes what a killed one left: nothing waits for the clock."""
    close_old_connections()
    try:
        signature_sweep(older_than=timedelta(0))
    finally:
        close_old_connections()
