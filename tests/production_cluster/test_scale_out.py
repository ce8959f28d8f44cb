"""Issue 11, acceptance 2: two web processes and two queue consumers sharing PostgreSQL, Redis
and the S3 server carry 100 three-party contracts driven at once over HTTP.

Runs in the suite's PostgreSQL run (`make test-postgres`); skipped on SQLite, where several
processes cannot share the database this way (conftest.py).
"""

from __future__ import annotations

import sys

import pytest

from tests.production_cluster.checks import (
    assert_each_party_signed_once,
    assert_final_pdfs_validate,
    assert_no_object_overwritten,
    mail_figures,
)
from tests.production_cluster.cluster import signatures_per_consumer
from tests.production_cluster.drive import PARTIES, drive

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow(seconds=360)]

CONTRACTS = 100


def test_two_web_and_two_queue_processes_complete_a_hundred_three_party_contracts(
    personas, installation
):
    cluster = installation.cluster
    run = drive(
        cluster,
        count=CONTRACTS,
        staff_username=personas.sender.username,
        password=personas.password,
        threads=32,
        mail_wait=300,
        complete_wait=300,
    )
    assert not run.stats.server_errors

    finals = assert_each_party_signed_once(run.contract_ids, parties=PARTIES)
    assert_final_pdfs_validate(finals)
    mail = mail_figures(run.contract_ids, cluster.relay)
    # Without kills every outbox message reached the relay exactly once.
    assert mail.received == mail.outbox and not mail.resent, mail
    objects = assert_no_object_overwritten(installation)

    per_consumer = signatures_per_consumer(cluster)
    assert all(per_consumer.values()), per_consumer  # both consumers took signing jobs
    sys.stdout.write(
        f"\nscale-out: {CONTRACTS} contracts x {PARTIES} parties over 2 web processes "
        f"(2 workers each) and 2 consumers (2 threads each)\n"
        f"  driven in {run.driven_seconds:.1f} s, all completed after "
        f"{run.completed_seconds:.1f} s = {CONTRACTS / run.completed_seconds * 60:.1f} "
        f"contracts/minute\n"
        f"  HTTP requests {run.stats.requests}, retried {run.stats.retries}\n"
        f"  signing jobs per consumer {per_consumer}\n"
        f"  mail: {mail.outbox} outbox messages, {mail.received} received, "
        f"{mail.distinct_message_ids} distinct Message-IDs\n"
        f"  S3 objects {objects}, each with one version\n"
    )
