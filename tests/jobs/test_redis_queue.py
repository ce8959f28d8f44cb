"""The queue on Redis with several consumers in several processes (issue 11).

Real `keiyaku run_huey` processes on a real redis-server (tests/servers/redis.py) and the shared
test database: jobs spread over the consumers; a contract's jobs never overlap, however many of
its parties sign at once; the periodic sweeper runs once a minute whatever the number of
consumers; and a consumer killed with SIGKILL while it signs loses nothing and doubles nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.models import (
    Contract,
    ContractStatus,
    DocumentVersion,
    PartyStatus,
    VersionKind,
)
from keiyaku.contracts.tasks import sweep
from keiyaku.jobs.models import Lease
from keiyaku.signing.verification import verify_pdf
from keiyaku.storage.blobs import blob_get
from keiyaku.storage.models import Blob
from tests.consumer_process import consumers, queue_on_redis, wait_for
from tests.flow import External, agree, draft_contract, last_link, mail_links
from tests.held_tsa import HeldTsa
from tests.outside import pdfsig

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _signers(count: int) -> list[External]:
    return [
        External(f"株式会社並行{n:02d}", f"署名 {n:02d}郎", f"p{n:02d}@firm.example.jp", "1357")
        for n in range(count)
    ]


def _completed(contract: Contract, *, seconds: float) -> bool:
    return wait_for(
        lambda: Contract.objects.get(pk=contract.pk).status == ContractStatus.COMPLETED,
        seconds=seconds,
    )


def _one_signature_per_party(contract: Contract, parties: int) -> None:
    """Each party signed each document exactly once, and the final PDF says so to two
    validators (pyHanko through keiyaku, and poppler's pdfsig)."""
    for party in contract.parties.all():
        assert party.status == PartyStatus.SIGNED
        signed = DocumentVersion.objects.filter(party=party, kind=VersionKind.SIGNED)
        assert signed.count() == contract.documents.count(), party.email
    events = Event.objects.filter(subject=f"contract:{contract.pk}")
    assert events.filter(event="signature.apply").count() == parties
    assert events.filter(event="contract.complete").count() == 1
    for document in contract.documents.all():
        final = document.current_version()
        assert final.kind == VersionKind.COMPLETED
        pdf = blob_get(final.blob)
        report = verify_pdf(pdf)
        assert report.ok, report.as_dict()
        assert len([s for s in report.signatures if s.kind == "signature"]) == parties
        assert len([s for s in pdfsig(pdf) if not s["is_document_timestamp"]]) == parties


def test_two_consumers_run_a_contracts_parallel_signatures_one_at_a_time(
    personas, redis_server, redis_url
):
    """Twelve parties of one parallel step agree at once; two consumers of two threads each take
    the jobs (and each thread's start-up sweep). Each job's span (when it took the contract,
    when it committed: the audit entry) must not overlap another's, and no signature is made
    twice: without the contract's lease several jobs signed the same version and all but one
    threw their signature away and started again."""
    signers = _signers(12)
    contract = draft_contract(personas.sender, externals=signers)
    for party in contract.parties.order_by("position")[1:]:
        services.party_set_parallel(party=party, actor=personas.sender, parallel=True)
    services.contract_send(contract=contract, actor=personas.sender)

    with queue_on_redis(redis_url):
        # All twelve jobs wait in Redis before the consumers start: the four threads take four
        # of them at the same moment, as when twelve people press the button together.
        for signer in signers:
            agree(Client(), last_link(signer.email), signer.code)
        assert redis_server.client().llen("huey.redis.keiyaku") == 12
    stored = Blob.objects.filter(keyring=contract.keyring_id).count()
    with consumers(2, redis_url=redis_url) as (first, second):
        assert _completed(contract, seconds=300), first.log()[-3000:] + second.log()[-3000:]
        # Both processes took jobs off the one queue.
        for consumer in (first, second):
            assert "Executing keiyaku.contracts.tasks.apply_signature" in consumer.log()
            # Each line once (Huey's own handler doubled them), no pikepdf banner (issue 14).
            assert consumer.log().count("Huey consumer started") == 1, consumer.log()[:3000]
            assert "pikepdf" not in consumer.log(), consumer.log()[:3000]
        # Jobs with nothing left to do (a signature the start-up sweep made first) take the
        # lease and let it go; once they are done nobody holds it.
        assert wait_for(
            lambda: not Lease.objects.filter(key=f"contract:{contract.pk}").exists(), seconds=60
        )

    spans: list[tuple[datetime, datetime, str]] = []
    for event in Event.objects.filter(
        subject=f"contract:{contract.pk}", event__in=["signature.apply", "contract.complete"]
    ):
        began = datetime.fromisoformat(event.detail["began_at"])
        spans.append((began, event.created_at, event.event))
    spans.sort()
    assert len(spans) == 13
    for earlier, later in pairwise(spans):
        assert earlier[1] <= later[0], f"jobs overlapped: {earlier} and {later}"
    _one_signature_per_party(contract, 12)
    # Every signature made was kept: none was made on a version another job replaced meanwhile
    # and thrown away (twelve signatures, one completed version, the certificate of completion).
    assert Blob.objects.filter(keyring=contract.keyring_id).count() - stored == 12 + 2


_PERIODIC = re.compile(
    r"periodic keiyaku\.contracts\.tasks\.sweep: "
    r"(running for (periodic:keiyaku\.contracts\.tasks\.sweep:\S+)|already run)"
)


def _sweep_runs(logs: list[str]) -> list[tuple[int, str]]:
    """(consumer, claim) for each sweep each consumer executed: the claim names the minute,
    "" when the run found the minute claimed and skipped."""
    return [
        (number, found.group(2) or "")
        for number, log in enumerate(logs)
        for found in _PERIODIC.finditer(log)
    ]


def test_the_periodic_sweeper_runs_once_a_minute_with_two_consumers(redis_url):
    """Each consumer's scheduler enqueues the sweep (at its start, then every 60 s): in every
    minute one run sweeps, the other finds the minute claimed."""
    with consumers(2, redis_url=redis_url, periodic=True) as started:

        def both_ran_in_one_minute() -> bool:
            runs = _sweep_runs([c.log() for c in started])
            return any(minute == "" for _n, minute in runs) and len(runs) >= 2

        assert wait_for(both_ran_in_one_minute, seconds=200), [c.log()[-2000:] for c in started]
        runs = _sweep_runs([c.log() for c in started])
    swept = [minute for _n, minute in runs if minute]
    assert len(swept) == len(set(swept)), f"a minute was swept twice: {runs}"
    claims = Lease.objects.filter(key__startswith="periodic:keiyaku.contracts.tasks.sweep:")
    assert sorted(claims.values_list("key", flat=True)) == sorted(swept)


@pytest.mark.slow(seconds=25)
def test_a_consumer_killed_mid_signature_loses_nothing(personas, redis_url):
    """Three parties in turn; the consumer signing the first is SIGKILLed while it waits for its
    timestamp. The job is gone with it (Redis handed it over); its lease on the contract ends
    after KEIYAKU_JOB_LEASE_SECONDS and the other consumer's sweeper signs. Every party ends
    with exactly one signature.

    The sweep is put on the queue here once the lease has lapsed, as a consumer's scheduler
    puts it there each minute (that schedule is the test above's): the run is the real task in
    the surviving consumer, without waiting up to a minute for the clock."""
    signers = _signers(3)
    contract = draft_contract(personas.sender, externals=signers)
    services.contract_send(contract=contract, actor=personas.sender)
    held = HeldTsa()
    held.hold.set()
    fast = {"KEIYAKU_JOB_LEASE_SECONDS": "3", "KEIYAKU_SWEEP_AFTER_SECONDS": "1"}
    try:
        with (
            queue_on_redis(redis_url),
            consumers(2, redis_url=redis_url, KEIYAKU_TSA_URLS=held.url, **fast) as started,
        ):
            agree(Client(), last_link(signers[0].email), signers[0].code)
            assert held.arrived.wait(timeout=60), "no consumer asked for a timestamp"
            lease = Lease.objects.get(key=f"contract:{contract.pk}")
            pid = int(lease.holder.split(":")[1])
            victim = next(c for c in started if c.pid == pid)
            survivor = next(c for c in started if c.pid != pid)
            victim.kill()
            held.hold.clear()
            held.release.set()
            held_on = Lease.objects.filter(key=lease.key)
            assert wait_for(lambda: not held_on.filter(expires_at__gte=timezone.now()), seconds=30)
            sweep()  # onto the Redis queue, for the survivor
            first = contract.parties.get(email=signers[0].email)
            assert wait_for(
                lambda: contract.parties.get(pk=first.pk).status == PartyStatus.SIGNED,
                seconds=150,
            ), survivor.log()[-3000:]
            for signer in signers[1:]:
                # Asked once the one before has signed, by an e-mail a consumer delivers.
                assert wait_for(lambda s=signer: mail_links(s.email), seconds=120)
                agree(Client(), last_link(signer.email), signer.code)
            assert _completed(contract, seconds=180), survivor.log()[-3000:]
    finally:
        held.close()
    _one_signature_per_party(contract, 3)
