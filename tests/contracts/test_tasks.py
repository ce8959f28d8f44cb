"""The periodic jobs call the services they name (the jobs themselves hold no rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from keiyaku.contracts import services, tasks
from keiyaku.contracts.models import ContractStatus
from tests.flow import External, draft_contract

pytestmark = pytest.mark.django_db(transaction=True)


def test_deadline_job_expires_overdue_contracts(personas):
    contract = draft_contract(personas.sender, externals=[External("A社", "甲", "a@example.jp")])
    services.contract_send(
        contract=contract, actor=personas.sender, deadline=timezone.now() + timedelta(hours=1)
    )
    type(contract).objects.filter(pk=contract.pk).update(
        deadline=timezone.now() - timedelta(minutes=1)
    )
    tasks.check_deadlines.call_local()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.EXPIRED
