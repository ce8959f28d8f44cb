"""Acceptance 6 of the core: a worker killed between agreement and signature loses nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from keiyaku.contracts.models import ContractStatus, DocumentVersion, PartyStatus, VersionKind
from keiyaku.contracts.services import agreement, signature_apply, signature_sweep
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)

ACME = External("株式会社アクメ", "山田 太郎", "yamada@acme.example.jp", "8080")


def signature_versions(contract) -> int:
    return DocumentVersion.objects.filter(
        document__contract=contract, kind=VersionKind.SIGNED
    ).count()


def test_lost_signature_job_is_done_once_after_restart(personas, monkeypatch):
    from keiyaku.contracts import services

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
