"""Issue 11, acceptance 4: back up an installation with 50 contracts, restore it into an empty
one, and everything a contract proves is the same; a backup taken while contracts are being
signed by another process restores to a consistent state (R42)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Archive
from keiyaku.audit.services import audit_archive, audit_record, audit_verify
from keiyaku.contracts import services
from keiyaku.contracts.models import Contract
from keiyaku.contracts.states import ContractStatus
from keiyaku.storage.backup import backup_create
from keiyaku.storage.backup.layout import BackupFolder
from tests.conftest import Personas
from tests.flow import External, agree, draft_contract, last_link
from tests.process_environment import on_test_database
from tests.storage.installation import Installation, facts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow(seconds=50)]

CONTRACTS = 50
COMPLETED = 6  # signed by a company and the mayor, certificate of completion issued
HALF_SIGNED = 3  # the company signed, the mayor has not yet


def _external(number: int) -> External:
    return External(
        company=f"株式会社テスト建設{number}",
        name=f"建設 太郎{number}",
        email=f"c{number}@co.example.jp",
    )


def _archive_old_audit_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    then = timezone.now() - dt.timedelta(days=500)
    monkeypatch.setattr(timezone, "now", lambda: then)
    for i in range(3):
        audit_record(event="contract.view", subject=f"old:{i}")
    monkeypatch.undo()
    assert audit_archive() is not None


def test_fifty_contracts_restore_into_an_empty_installation(tmp_path, monkeypatch):
    personas = Personas()
    _archive_old_audit_entries(monkeypatch)
    started = time.monotonic()
    for number in range(CONTRACTS):
        company = _external(number)
        signing = number < COMPLETED + HALF_SIGNED
        contract = draft_contract(
            personas.sender,
            externals=[company],
            staff_signers=[personas.mayor] if signing else [],
            title=f"令和8年度 業務委託契約 第{number}号",
            heading="令和8年度 業務委託契約",  # one upload, checked once
        )
        if not signing:
            continue
        services.contract_send(contract=contract, actor=personas.sender)
        agree(Client(), last_link(company.email), company.code)
        if number < COMPLETED:
            mayor = Client()
            mayor.force_login(personas.mayor)
            agree(mayor, last_link(personas.mayor.email))
    built = time.monotonic() - started
    assert Contract.objects.count() == CONTRACTS
    assert Contract.objects.filter(status=ContractStatus.COMPLETED).count() == COMPLETED
    assert Archive.objects.count() == 1
    before = facts()
    assert "audit log intact" in before["audit"]

    started = time.monotonic()
    report = backup_create(dest=tmp_path / "backup")
    backed_up = time.monotonic() - started
    other = Installation(tmp_path / "restored")
    started = time.monotonic()
    restored = other.keiyaku("restore", str(tmp_path / "backup"))
    restore_seconds = time.monotonic() - started
    assert "objects checked, audit log intact" in restored.stdout

    after = other.facts()
    assert after["contracts"] == before["contracts"]
    assert after["versions"] == before["versions"]  # every signed PDF's SHA-256
    assert after["certificates"] == before["certificates"]  # every certificate of completion
    assert len(after["certificates"]) == COMPLETED
    assert after["audit"] == before["audit"]  # `keiyaku audit verify --archives`
    # The restored installation has the authority that signed the contracts.
    assert (other.data_dir / "pki" / "root.crt.pem").read_bytes() == (
        Path(os.environ["KEIYAKU_DATA_DIR"]) / "pki" / "root.crt.pem"
    ).read_bytes()
    print(  # noqa: T201 - the figures the report quotes
        f"\nbuilt {CONTRACTS} contracts ({COMPLETED} completed) in {built:.1f} s; "
        f"backup {report.objects} objects in {backed_up:.1f} s; restore {restore_seconds:.1f} s"
    )


def test_a_backup_taken_while_another_process_signs_restores_consistently(
    tmp_path, keiyaku_tsa_url
):
    personas = Personas()
    companies = [_external(n) for n in range(6)]
    for company in companies:
        contract = draft_contract(personas.sender, externals=[company])
        services.contract_send(contract=contract, actor=personas.sender)
    links = [[last_link(c.email), c.code] for c in companies]
    import json

    signer = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "tests.storage.signer_process", json.dumps(links)],
        env=on_test_database(KEIYAKU_TSA_URLS=keiyaku_tsa_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert signer.stdout is not None
        taken = []
        # A backup after the first and the third signature, while the others are being made.
        for line in signer.stdout:
            if line.strip() in {"signed 1", "signed 3"}:
                taken.append(backup_create(dest=tmp_path / "backup").generation)
                assert signer.poll() is None, "the signing process ended before the backup"
        assert signer.wait(timeout=600) == 0
    finally:
        if signer.poll() is None:
            signer.kill()
    final = facts()
    assert set(final["contracts"].values()) == {ContractStatus.COMPLETED}
    assert audit_verify().ok

    assert len(taken) == 2
    assert BackupFolder(tmp_path / "backup").complete_generations() == taken
    completed_then = []
    for number, generation in enumerate(taken):
        other = Installation(tmp_path / f"restored-{number}")
        other.keiyaku("restore", str(generation))
        # Every document version row has its object, decrypting to the recorded SHA-256, and
        # is one the signing process wrote: the restored state is a moment of the original.
        restored = other.facts()
        assert restored["versions"].items() <= final["versions"].items()
        assert set(restored["contracts"]) == set(final["contracts"])
        completed_then.append(list(restored["contracts"].values()).count(ContractStatus.COMPLETED))
        assert "audit log intact" in restored["audit"]
    # Each backup is a moment in the middle of the signing: some contracts done, not all.
    assert all(0 < n < len(companies) for n in completed_then), completed_then
