"""Leases (keiyaku.jobs.leases): one holder at a time, an end that comes by itself, renewal while
the holder works, and one run per minute of a periodic task."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from keiyaku.jobs.leases import (
    LeaseBusy,
    LeaseLost,
    lease_confirm,
    lease_hold,
    lease_take,
    period_claim,
)
from keiyaku.jobs.models import Lease


@pytest.mark.django_db
def test_a_lease_has_one_holder_until_it_expires():
    now = timezone.now()
    assert lease_take("contract:a", holder="one", seconds=30, now=now)
    assert not lease_take("contract:a", holder="two", seconds=30, now=now + timedelta(seconds=29))
    assert lease_take("contract:b", holder="two", seconds=30, now=now)  # another key is free
    # The holder renews; nobody else gets it before the renewed end.
    assert lease_take("contract:a", holder="one", seconds=30, now=now + timedelta(seconds=20))
    assert not lease_take("contract:a", holder="two", seconds=30, now=now + timedelta(seconds=40))
    # A holder that stopped renewing (killed) loses it at the end.
    assert lease_take("contract:a", holder="two", seconds=30, now=now + timedelta(seconds=51))
    assert Lease.objects.get(key="contract:a").holder == "two"


@pytest.mark.django_db
def test_holding_a_busy_lease_waits_then_gives_up():
    lease_take("contract:c", holder="somebody", seconds=30)
    started = time.monotonic()
    with pytest.raises(LeaseBusy), lease_hold("contract:c", wait=0.5):
        pass
    assert 0.3 < time.monotonic() - started < 5


@pytest.mark.django_db
def test_a_thread_takes_its_own_lease_again_and_lets_go_at_the_end():
    with lease_hold("contract:d", wait=0):
        with lease_hold("contract:d", wait=0):  # the completion job inline in the signing job
            lease_confirm("contract:d")
        assert Lease.objects.filter(key="contract:d").exists()
    assert not Lease.objects.filter(key="contract:d").exists()


@pytest.mark.django_db
def test_a_holder_that_lost_its_lease_cannot_confirm():
    with lease_hold("contract:e", wait=0):
        # The lease ran out while this holder stalled, and another took it.
        Lease.objects.filter(key="contract:e").update(
            holder="another", expires_at=timezone.now() + timedelta(seconds=30)
        )
        with pytest.raises(LeaseLost):
            lease_confirm("contract:e")
    assert Lease.objects.get(key="contract:e").holder == "another"  # not released by the loser


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_a_long_job_s_lease(settings):
    settings.KEIYAKU_JOB_LEASE_SECONDS = 1
    others: list[bool] = []

    def try_to_take() -> None:
        others.append(lease_take("contract:f", holder="other", seconds=1))

    with lease_hold("contract:f", wait=0):
        time.sleep(2.5)  # more than twice the lease: renewed meanwhile
        thread = threading.Thread(target=try_to_take)
        thread.start()
        thread.join()
        lease_confirm("contract:f")
    assert others == [False]


@pytest.mark.django_db
def test_a_periodic_task_is_claimed_once_per_minute():
    minute = timezone.now().replace(second=5, microsecond=0)
    key = period_claim("keiyaku.contracts.tasks.sweep", now=minute)
    assert key == f"periodic:keiyaku.contracts.tasks.sweep:{minute.replace(second=0).isoformat()}"
    # The other consumer's run of the same minute, however late in it, finds it claimed.
    assert period_claim("keiyaku.contracts.tasks.sweep", now=minute + timedelta(seconds=50)) is None
    assert period_claim("keiyaku.contracts.tasks.check_deadlines", now=minute)  # another task
    assert period_claim("keiyaku.contracts.tasks.sweep", now=minute + timedelta(seconds=60))
    # Claims older than a day are swept when a new one is made.
    period_claim("keiyaku.contracts.tasks.sweep", now=minute + timedelta(days=2))
    assert Lease.objects.filter(key__startswith="periodic:").count() == 1
