"""Acceptance 6 of the core: a worker killed between agreement and signature loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection
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
from keiyaku.pki import tsa
from keiyaku.pki.service import get_authority
from tests.flow import External, agree, draft_contract, last_link

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


class _HeldTsa:
    """keiyaku's TSA on loopback that can hold requests, to catch a worker mid-signature."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.hold.is_set():
                    outer.arrived.set()
                    outer.release.wait(timeout=120)
                reply = tsa.respond(body, authority=get_authority())
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                try:
                    self.wfile.write(reply)
                except OSError:
                    pass  # the client was killed meanwhile

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def _start_worker(tsa_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "KEIYAKU_TEST_DB": connection.settings_dict["NAME"],
        "KEIYAKU_TASKS_IMMEDIATE": "0",
        "KEIYAKU_TSA_URLS": tsa_url,
        # The killed worker's lease on the contract ends soon (keiyaku.jobs.leases).
        "KEIYAKU_JOB_LEASE_SECONDS": "5",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
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
    held = _HeldTsa()
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
