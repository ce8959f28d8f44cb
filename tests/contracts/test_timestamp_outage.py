"""No signature without a timestamp: when every TSA is down the agreement waits, then completes."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import (
    ContractStatus,
    DocumentVersion,
    JobFailure,
    PartyStatus,
    VersionKind,
)
from keiyaku.contracts.services import signature_sweep
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("有限会社テスト", "試験 花子", "hanako@example.jp", "9999")


def dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/tsa"


def test_agreement_is_kept_while_no_tsa_answers(personas, settings, keiyaku_tsa_url):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    settings.KEIYAKU_TSA_URLS = [dead_url()]
    agree(Client(), last_link(FIRM.email), FIRM.code)  # the party sees success: it is recorded
    party = contract.parties.get()
    assert party.status == PartyStatus.AGREED
    signed = DocumentVersion.objects.filter(document__contract=contract, kind=VersionKind.SIGNED)
    assert signed.count() == 0  # nothing signed without a timestamp
    # The failed runs are on record for the monthly report (R33): retried, not given up.
    failures = JobFailure.objects.filter(contract=contract, job="apply_signature")
    assert failures.exists() and all(f.retried for f in failures)
    assert failures.first().error.startswith("RetryTask: ")  # waiting for a TSA

    settings.KEIYAKU_TSA_URLS = [dead_url(), keiyaku_tsa_url]  # the second TSA answers
    signature_sweep(older_than=timedelta(0))
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED and signed.count() == 1
