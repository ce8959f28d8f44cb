"""Acceptance 6 of the core: a worker killed between agreement and signature loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY

from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.models import (
    Contract,
    ContractStatus,
    DocumentVersion,
    PartyStatus,
    VersionKind,
)
from keiyaku.contracts.services import agreement, signature_apply, signature_sweep
from tests.flow import External, agree, draft_contract, last_link
from tests.held_tsa import HeldTsa
from tests.process_environment import on_test_database

pytestmark = pytest.mark.django_db(transaction=True)

ACME = External("株式会社アクメ", "山田 太郎", "yamada@acme.example.jp", "8080")


def signature_versions(contract) -> int:
    return DocumentVersion.objects.filter(
        document__contract=contract, kind=VersionKind.SIGNED
    ).count()


def test_lost_signature_job_is_done_once_after_restart(personas, monkeypatch):
    contract = draft_contract(personas.sender, externals=[ACME], documents=2)
    services.contract_send(contract=contract, actor=personas.sender)
    # The worker dies after taking the job off the queue: the job never runs.
    monkeypatch.setattr(agreement, "_enqueue_signature", lambda party_id: None)
    agree(Client(), last_link(ACME.email), ACME.code)
    party = contract.parties.get()
    assert party.status == PartyStatus.AGREED  # the agreement itself is committed
    assert signature_versions(contract) == 0

    # A fresh worker's sweeper finds the overdue agreement and finishes it...
    assert signature_sweep(older_than=timedelta(0)) >= 1
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    assert signature_versions(contract) == 2  # one signature per document, once
    # ...and the lost job, should it still arrive, or another sweep, change nothing.
    assert signature_apply(party_id=party.pk) is False
    assert signature_sweep(older_than=timedelta(0)) == 0
    assert signature_versions(contract) == 2


def _start_worker(tsa_url: str) -> subprocess.Popen:
    env = on_test_database(
        KEIYAKU_TASKS_IMMEDIATE="0",
        KEIYAKU_TSA_URLS=tsa_url,
        # The killed worker's lease on the contract ends soon (keiyaku.jobs.leases).
        KEIYAKU_JOB_LEASE_SECONDS="5",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "keiyaku.cli", "run_huey", "--workers", "1", "--no-periodic"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for(predicate, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_worker_killed_mid_signature_then_restarted(personas):
    """A real worker process is SIGKILLed while it signs; a new one finishes, signing once."""
    contract = draft_contract(personas.sender, externals=[ACME], documents=2)
    services.contract_send(contract=contract, actor=personas.sender)
    held = HeldTsa()
    held.hold.set()
    HUEY.immediate = False  # jobs now go to the queue file that the worker process reads
    first = second = None
    try:
        first = _start_worker(held.url)
        agree(Client(), last_link(ACME.email), ACME.code)
        assert held.arrived.wait(timeout=60), "the worker never asked for a timestamp"
        first.send_signal(signal.SIGKILL)  # killed in the middle of producing the signature
        first.wait(timeout=30)
        party = contract.parties.get()
        assert party.status == PartyStatus.AGREED
        assert signature_versions(contract) == 0

        held.hold.clear()
        held.release.set()
        second = _start_worker(held.url)
        assert _wait_for(
            lambda: Contract.objects.get(pk=contract.pk).status == ContractStatus.COMPLETED,
            seconds=120,
        ), second.stderr.read1().decode() if second.poll() is not None else "worker still running"
        assert signature_versions(contract) == 2  # one per document: produced once
        assert (
            Event.objects.filter(subject=f"contract:{contract.pk}", event="signature.apply").count()
            == 1
        )
    finally:
        HUEY.immediate = True
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        held.close()
