"""Audit entries written at once from many connections (R39): each is chained after exactly
one other, none is lost, and the chain verifies. Real threads, each with its own database
connection, as the web server's threads and processes write them."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from keiyaku.audit.models import ChainHead, Event
from keiyaku.audit.services import audit_record, audit_verify
from tests.api.conftest import Api, make_token

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
EACH = 15


def _in_threads(work) -> list[BaseException]:
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_entries_written_at_once_form_one_intact_chain(personas):
    before = Event.objects.count()

    def write(n: int) -> None:
        for i in range(EACH):
            audit_record(event="contract.view", subject=f"contract:{n}-{i}")

    assert _in_threads(write) == []
    entries = list(Event.objects.order_by("id"))
    assert len(entries) == before + THREADS * EACH
    previous = [entry.prev_hash for entry in entries]
    assert len(set(previous)) == len(previous)  # no entry chained after the same one twice
    report = audit_verify()
    assert report.ok, report
    head = ChainHead.objects.get(pk=1)
    assert (head.last_event_id, head.last_hash) == (entries[-1].pk, entries[-1].hash)


def test_api_calls_at_once_are_each_audited_in_the_chain(personas):
    secret = make_token(personas.admin, scope="read").secret
    before = Event.objects.filter(event="api.call").count()

    def call(n: int) -> None:
        api = Api(secret)
        for _ in range(5):
            assert api.get("/contracts").status_code == 200

    assert _in_threads(call) == []
    assert Event.objects.filter(event="api.call").count() == before + THREADS * 5
    assert audit_verify().ok
