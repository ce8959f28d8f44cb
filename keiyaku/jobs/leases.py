"""Leases: a lock per name in the database that ends by itself when its holder dies.

keiyaku's queue may have several consumers in several processes (R41). A contract's signing and
completion jobs must not run at the same time: each would sign on the same document version and
all but one would be thrown away (wasted work, retries, a 10-party contract taking ten rounds).
`lease_hold("contract:<id>")` serialises them, on SQLite and PostgreSQL alike and with either
queue back end, so there is one lock mechanism, not one per queue:

- taking is one conditional write (an INSERT, or an UPDATE of an expired row), so two processes
  racing for a free lease cannot both get it;
- the holder renews the lease every third of its time from a heartbeat thread while it works, so
  a long job keeps it, and a consumer killed with SIGKILL frees it after at most
  KEIYAKU_JOB_LEASE_SECONDS;
- the holder confirms the lease in the transaction that commits its result
  (`lease_confirm`): a holder that lost its lease (stalled past its expiry) rolls back instead
  of committing beside the next holder;
- a thread that already holds a lease takes it again at once (a signing job whose completion job
  runs inline, in immediate mode).

The lock is for efficiency and order; correctness still rests on the services' state guards
(each job stays idempotent, and runs twice sometimes).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from keiyaku.jobs.models import Lease

logger = logging.getLogger(__name__)

__all__ = ["LeaseBusy", "LeaseLost", "lease_confirm", "lease_hold", "lease_take", "period_claim"]


class LeaseBusy(Exception):
    """Somebody else holds the lease and did not let go within the wait."""


class LeaseLost(Exception):
    """The lease expired while its holder worked (a stall past KEIYAKU_JOB_LEASE_SECONDS)."""


@dataclass
class _Held:
    token: str
    depth: int


_local = threading.local()


def _held() -> dict[str, _Held]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


def _new_token() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"


def lease_take(key: str, *, holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Take or renew the lease `key` for `seconds` (s). True when `holder` now holds it.

    One conditional write each way: a free or expired lease goes to the first writer; a lease
    `holder` already holds is extended.
    """
    now = now or timezone.now()
    until = now + timedelta(seconds=seconds)
    leases = Lease.objects.filter(key=key)
    if leases.filter(holder=holder).update(expires_at=until):
        return True
    if leases.filter(expires_at__lte=now).update(holder=holder, expires_at=until):
        return True
    if leases.exists():
        return False
    try:
        with transaction.atomic():
            Lease.objects.create(key=key, holder=holder, expires_at=until)
    except IntegrityError:
        return False  # another process took it meanwhile
    return True


def _release(key: str, *, holder: str) -> None:
    Lease.objects.filter(key=key, holder=holder).delete()


def lease_confirm(key: str) -> None:
    """Inside the transaction that commits a held job's result: renew the lease, or raise
    LeaseLost (rolling the transaction back) when another holder has it now.

    On PostgreSQL the renewing UPDATE also keeps the row locked until commit, so the lease
    cannot change hands between this check and the commit; on SQLite the transaction holds the
    database's write lock for the same effect.
    """
    held = _held().get(key)
    if held is None:
        raise LeaseLost(key)
    if not Lease.objects.filter(key=key, holder=held.token).update(
        expires_at=timezone.now() + timedelta(seconds=settings.KEIYAKU_JOB_LEASE_SECONDS)
    ):
        raise LeaseLost(key)


class _Heartbeat(threading.Thread):
    """Renews a lease every third of its time until stopped (its own database connection)."""

    def __init__(self, key: str, token: str, seconds: float) -> None:
        super().__init__(name=f"lease {key}", daemon=True)
        self.key, self.token, self.seconds = key, token, seconds
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.seconds / 3):
                try:
                    if not lease_take(self.key, holder=self.token, seconds=self.seconds):
                        self.lost = True
                        return
                except Exception:  # a busy database: try again at the next beat
                    logger.warning("lease %s: renewal failed, retrying", self.key, exc_info=True)
        finally:
            connection.close()


@contextmanager
def lease_hold(key: str, *, wait: float) -> Iterator[None]:
    """Hold the lease `key` for the block; wait up to `wait` seconds (0: try once) for it.

    Raises LeaseBusy when another holder keeps it longer. Reentrant within a thread. Take it
    outside any transaction (a job's own level): a lease taken inside one is invisible to other
    processes until that commits.
    """
    held = _held()
    if key in held:
        held[key].depth += 1
        try:
            yield
        finally:
            held[key].depth -= 1
        return
    seconds = settings.KEIYAKU_JOB_LEASE_SECONDS
    token = _new_token()
    deadline = time.monotonic() + wait
    # Short at first: the usual holder is the job that queued this one (a signature queues
    # the completion as it commits) and lets go milliseconds later (issue 12: pick-up).
    pause = 0.01
    while not lease_take(key, holder=token, seconds=seconds):
        if time.monotonic() + pause > deadline:
            raise LeaseBusy(key)
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
    held[key] = _Held(token=token, depth=1)
    beat = None
    if not connection.in_atomic_block:
        beat = _Heartbeat(key, token, seconds)
        beat.start()
    try:
        yield
    finally:
        del held[key]
        if beat is not None:
            beat.stopped.set()
            beat.join()
        _release(key, holder=token)


def period_claim(name: str, *, now: datetime | None = None) -> str | None:
    """Claim this minute's run of the periodic task `name`: the claim's key for the first caller,
    None for every other.

    Every consumer's scheduler enqueues each periodic task (Huey checks once a minute, at the
    second its consumer started); the first run of a calendar minute claims it and the others
    skip. A periodic task fires at most once per minute, so the minute names the period. Claims
    are kept a day, then swept when a new one is made.
    """
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    key = f"periodic:{name}:{minute.isoformat()}"
    try:
        with transaction.atomic():
            Lease.objects.create(key=key, holder=_new_token(), expires_at=now + timedelta(days=1))
    except IntegrityError:
        return None
    Lease.objects.filter(key__startswith="periodic:", expires_at__lt=now).delete()
    return key
