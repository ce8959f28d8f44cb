"""Issue 11, acceptance 3: kill -9 of web and queue processes at random moments while 30
three-party contracts are carried; every contract completes with one signature per party, no
e-mail is lost and none is sent as two different messages.

The people press again when their connection dies (people.py). Mail: a consumer killed
between the relay's 250 and the outbox row's update sends that message again after restart,
under the same Message-ID (docs/architecture.md, "Mail delivery"); the raw receipt counts are
printed with the rest.

Runs in the suite's PostgreSQL run (`make test-postgres`); skipped on SQLite (conftest.py).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable

import pytest

from tests.production_cluster.checks import (
    assert_each_party_signed_once,
    assert_final_pdfs_validate,
    assert_no_object_overwritten,
    mail_figures,
)
from tests.production_cluster.cluster import Cluster
from tests.production_cluster.drive import PARTIES, drive

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow(seconds=150)]

CONTRACTS = 30
KILLS = 12
# Seconds between two kills: a contract's creation (its upload checked in child processes)
# takes a few seconds on two busy cores, and so does a web process's start; kills closer
# together would leave no web process up long enough for anybody to finish.
PAUSE = (4.0, 10.0)


def killer(cluster: Cluster, rng: random.Random) -> Callable[[threading.Event], None]:
    """KILLS kills at random moments from the start, whether or not the driving has ended (all
    contracts then still wait for signatures or completion)."""

    def kill_until(done: threading.Event) -> None:
        while len(cluster.kills) < KILLS:
            time.sleep(rng.uniform(*PAUSE))
            kill = cluster.kill_random(rng)
            sys.stdout.write(f"  kill -9 at {kill.at:6.1f} s: {kill.process} (pid {kill.pid})\n")
            sys.stdout.flush()

    return kill_until


def test_every_contract_completes_once_with_web_and_queue_processes_killed(personas, installation):
    cluster = installation.cluster
    seed = random.randrange(1 << 30)
    sys.stdout.write(f"\ncrash test, random seed {seed}\n")
    rng = random.Random(seed)
    run = drive(
        cluster,
        count=CONTRACTS,
        staff_username=personas.sender.username,
        password=personas.password,
        threads=10,
        mail_wait=420,
        complete_wait=420,
        during=killer(cluster, rng),
    )
    assert len(cluster.kills) == KILLS >= 10
    assert {k.process for k in cluster.kills} & {"web-A", "web-B"}
    assert {k.process for k in cluster.kills} & {"consumer-1", "consumer-2"}
    assert not run.stats.server_errors, run.stats.server_errors

    finals = assert_each_party_signed_once(run.contract_ids, parties=PARTIES)
    assert_final_pdfs_validate(finals)
    mail = mail_figures(run.contract_ids, cluster.relay)
    objects = assert_no_object_overwritten(installation)
    # A message goes out twice only when a consumer was killed after the relay's 250 and before
    # the row's update: never more resends than consumer kills.
    consumer_kills = sum(k.process.startswith("consumer") for k in cluster.kills)
    assert sum(n - 1 for n in mail.resent.values()) <= consumer_kills, mail.resent
    sys.stdout.write(
        f"crash: {CONTRACTS} contracts x {PARTIES} parties, {len(cluster.kills)} kills "
        f"({', '.join(k.process for k in cluster.kills)})\n"
        f"  driven in {run.driven_seconds:.1f} s, all completed after "
        f"{run.completed_seconds:.1f} s\n"
        f"  HTTP requests {run.stats.requests}, pressed again {run.stats.retries}\n"
        f"  mail: {mail.outbox} outbox messages, {mail.received} received, "
        f"{mail.distinct_message_ids} distinct Message-IDs, resent (same Message-ID) "
        f"{mail.resent}\n"
        f"  S3 objects {objects}, each with one version\n"
    )
