"""Background jobs of the contract flow. Each loads rows by id and calls one service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from keiyaku.contracts.services import contract_finalize, signature_apply, signature_sweep


@db_task(retries=10, retry_delay=30)
def apply_signature(party_id: int) -> None:
    signature_apply(party_id=party_id)


@db_task(retries=10, retry_delay=30)
def finalize_contract(contract_id: str) -> None:
    contract_finalize(contract_id=contract_id)


@db_periodic_task(crontab(minute="*"))
def sweep() -> None:
    signature_sweep()
