"""The sweeper (`signature_sweep`, every minute): a constant number of queries, whatever the
number of overdue contracts, and exactly the overdue work queued again (issue 12).

It used to check each contract in progress one by one: 30,440 queries and 22 s for 15,000.
The overdue contracts are made once through the services (agreement over HTTP, the signature
by the service, the jobs that would follow never run: on_commit does not fire in these tests)
and then copied row by row to reach 1,000: making 1,000 through the services takes minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from keiyaku.contracts import services
from keiyaku.contracts.models import Contract, ContractStatus, Party, PartyStatus
from keiyaku.contracts.services import signature_apply, signature_sweep
from keiyaku.contracts.services.progress import SWEEP_QUERIES
from keiyaku.storage.models import KeyRing
from tests.consumer_process import queue_on_redis
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db

FIRM = External("株式会社掃除", "掃除 一郎", "sweep@firm.example.jp", "2468")


@contextmanager
def _queue(kind: str, request: pytest.FixtureRequest) -> Iterator[None]:
    """Jobs go to a real queue instead of running inline: the SQLite queue file of the
    settings, or a Redis server."""
    if kind == "redis":
        with queue_on_redis(request.getfixturevalue("redis_url")):
            yield
        return
    HUEY.immediate = False
    HUEY.flush()
    try:
        yield
    finally:
        HUEY.flush()
        HUEY.immediate = True


def _copies(contract: Contract, count: int) -> list[Contract]:
    """`count` copies of `contract` and its parties (each with its own key ring)."""
    contract = Contract.objects.select_related("keyring").get(pk=contract.pk)
    parties = list(contract.parties.all())
    rings = KeyRing.objects.bulk_create(
        [KeyRing(wrapped_key=contract.keyring.wrapped_key) for _ in range(count)]
    )
    copies = []
    for ring in rings:
        copy = Contract.objects.get(pk=contract.pk)
        copy.pk, copy.keyring, copy.certificate_id = uuid.uuid4(), ring, uuid.uuid4().hex
        copies.append(copy)
    Contract.objects.bulk_create(copies)
    rows = []
    for copy in copies:
        for party in parties:
            party.pk, party.contract_id = None, copy.pk
            rows.append(Party(**{f.attname: getattr(party, f.attname) for f in Party._meta.fields}))
    Party.objects.bulk_create(rows)
    return copies


def _sent(personas, capture) -> Contract:
    contract = draft_contract(personas.sender, externals=[FIRM])
    with capture(execute=True):  # the request e-mail is sent
        services.contract_send(contract=contract, actor=personas.sender)
    return contract


def _age(contracts: list[Contract], *, minutes: int) -> None:
    then = timezone.now() - timedelta(minutes=minutes)
    ids = [c.pk for c in contracts]
    Contract.objects.filter(pk__in=ids).update(last_activity_at=then)
    Party.objects.filter(contract__in=ids, agreed_at__isnull=False).update(agreed_at=then)


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
@pytest.mark.parametrize("overdue", [10, 1000])
def test_the_sweep_runs_a_constant_number_of_queries(
    personas,
    queue,
    overdue,
    request,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    # An agreement whose signature job was lost.
    agreed = _sent(personas, django_capture_on_commit_callbacks)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    # A contract signed by everybody whose completion job was lost.
    signed = _sent(personas, django_capture_on_commit_callbacks)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    assert signature_apply(party_id=signed.parties.get().pk)
    assert Contract.objects.get(pk=signed.pk).status == ContractStatus.IN_PROGRESS
    # Not overdue: still waiting for its party; agreed too recently; cancelled after agreeing.
    waiting = _sent(personas, django_capture_on_commit_callbacks)
    recent = _copies(agreed, 3)
    cancelled = _copies(agreed, 2)
    Contract.objects.filter(pk__in=[c.pk for c in cancelled]).update(
        status=ContractStatus.CANCELLED
    )
    late_signatures = [agreed, *_copies(agreed, overdue // 2 - 1)]
    late_completions = [signed, *_copies(signed, overdue - overdue // 2 - 1)]
    _age([*late_signatures, *late_completions, waiting, *cancelled], minutes=10)
    _age(recent, minutes=1)

    with _queue(queue, request):
        with django_assert_max_num_queries(SWEEP_QUERIES):
            queued = signature_sweep(older_than=timedelta(minutes=5))
        jobs = HUEY.pending()
    assert queued == overdue == len(jobs)
    signing = {
        job.args[0]
        for job in jobs
        if job.name.endswith("apply_signature") and job.kwargs == {"wait": 0}
    }
    finishing = {
        job.args[0]
        for job in jobs
        if job.name.endswith("finalize_contract") and job.kwargs == {"wait": 0}
    }
    expected_parties = set(
        Party.objects.filter(contract__in=late_signatures).values_list("pk", flat=True)
    )
    assert signing == expected_parties
    assert finishing == {str(c.pk) for c in late_completions}
    assert Party.objects.get(contract=waiting).status == PartyStatus.NOTIFIED
