"""Acceptance 4 of issue 13 (R21): a renewal run over 1,000 contracts survives kill -9.

A real consumer process (`keiyaku run_huey`) runs the renewal job; it is SIGKILLed in the
middle; what it stored is whole (each renewal stored and recorded, or not at all); a second
consumer's run renews the rest, and every contract is renewed exactly once.
"""

from __future__ import annotations

import os
import time

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from keiyaku.audit.models import Event
from keiyaku.audit.services import audit_verify
from keiyaku.contracts.models import DocumentVersion, VersionKind
from keiyaku.contracts.services.renewal import archive_renewal_run
from keiyaku.contracts.tasks import renew_archives_batch
from tests.consumer_process import start_consumer
from tests.contracts.renewal_setup import (
    YEAR,
    assert_no_half_renewal,
    completed_in_bulk,
    final_pdf,
    renewal_count,
)

# Run once, in the PostgreSQL run: the installation that has several consumers (the lease, the
# conditional update and the transaction are the same code on SQLite, which the other renewal
# tests cover), and a thousand renewals are a minute of the suite.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("KEIYAKU_TEST_DATABASE") != "postgres",
        reason="a thousand renewals under kill -9 run once, in the PostgreSQL run",
    ),
]

CONTRACTS = 1000
LEASE_SECONDS = 2


def _wait_for(predicate, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow(seconds=120)
def test_a_run_killed_with_sigkill_resumes_and_renews_each_contract_once(personas, short_tsa):
    short_tsa.issue(timezone.now() - YEAR * 1.5)  # ends in half a year: all due
    ids = completed_in_bulk(personas, count=CONTRACTS, pdf=final_pdf(short_tsa))
    environment = {
        "KEIYAKU_RENEWAL_BATCH": str(CONTRACTS),
        "KEIYAKU_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    HUEY.immediate = False  # the job goes to the queue file the consumers read
    first = second = None
    try:
        first = start_consumer(workers=1, **environment)
        renew_archives_batch()
        assert _wait_for(lambda: renewal_count(ids) >= CONTRACTS // 10, seconds=120), first.log()
        first.kill()
        done = renewal_count(ids)
        assert 0 < done < CONTRACTS
        assert_no_half_renewal()  # whatever was stored is whole

        time.sleep(LEASE_SECONDS)  # the killed consumer's contract lease ends
        second = start_consumer(workers=1, **environment)
        renew_archives_batch()
        assert _wait_for(lambda: renewal_count(ids) == CONTRACTS, seconds=300), second.log()
    finally:
        HUEY.immediate = True
        for consumer in (first, second):
            if consumer is not None:
                consumer.stop()
                consumer.log_path.unlink(missing_ok=True)

    assert_no_half_renewal()
    renewed = DocumentVersion.objects.filter(
        document__contract_id__in=ids, kind=VersionKind.RENEWED
    )
    assert renewed.count() == CONTRACTS
    assert renewed.values("document").distinct().count() == CONTRACTS  # one each
    assert Event.objects.filter(event="contract.renew").count() == CONTRACTS
    assert audit_verify().ok
    assert archive_renewal_run().renewed == 0  # nothing left, nothing twice
