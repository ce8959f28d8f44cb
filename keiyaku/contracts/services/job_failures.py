"""The record of failed signature jobs (R33's operating record): written by the jobs in
`contracts.tasks` when a run fails, read by the monthly report (`contracts.report`)."""

from __future__ import annotations

from django.utils import timezone

from keiyaku.contracts.models import Contract, JobFailure


def job_failure_record(*, job: str, contract_id: object, retried: bool, error: Exception) -> None:
    """Record that one run of `job` (the task's name) for the contract failed: `retried` when
    it runs again, else given up. A contract that no longer exists (or None) records nothing.
    Written in its own autocommit statement: the failed run's transaction has rolled back."""
    if contract_id is None or not Contract.objects.filter(pk=str(contract_id)).exists():
        return
    JobFailure.objects.create(
        contract_id=str(contract_id),
        job=job[:40],
        retried=retried,
        error=f"{type(error).__name__}: {error}"[:2000],
        occurred_at=timezone.now(),
    )
