"""Background jobs of the contract flow. Each loads rows by id and calls one service."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from huey import crontab
from huey.api import Task
from huey.contrib.djhuey import db_task, on_startup
from huey.exceptions import RetryTask

from keiyaku.contracts.models import Party
from keiyaku.contracts.services import (
    contract_finalize,
    deadlines_check,
    signature_apply,
    signature_sweep,
)
from keiyaku.contracts.services.certificates import certificate_issue
from keiyaku.contracts.services.importing import import_stamp, import_stamp_sweep
from keiyaku.contracts.services.job_failures import job_failure_record
from keiyaku.contracts.services.progress import LOCK_WAIT_SECONDS, ContractBusy
from keiyaku.contracts.services.renewal import archive_renewal_run
from keiyaku.contracts.services.renewal_alerts import renewal_alerts_send
from keiyaku.jobs.periodic import periodic_task
from keiyaku.signing.timestamping import TimestampUnavailable
from keiyaku.signing.tsas import tsa_retry_delay

log = logging.getLogger(__name__)


# A job holds its contract's lease while it works (keiyaku.jobs.leases): a contract's jobs run
# one after the other on any number of consumers; one that waited too long is retried.
# The periodic sweep queues them with wait=0: a contract whose lease is held is being worked
# on, and its job is dropped rather than retried (the next sweep looks again). A restarted
# consumer's sweep lets them wait (resume_after_restart).
@contextmanager
def _dropped_if_busy(wait: float) -> Iterator[None]:
    """A job queued with ``wait=0`` ends quietly when its contract's lease is held; one that
    waited raises ContractBusy, for Huey to retry it."""
    try:
        yield
    except ContractBusy:
        if wait:
            raise


@contextmanager
def _retried_until_a_tsa_answers() -> Iterator[None]:
    """A job that found no usable TSA tries again, however long the outage lasts (the
    agreement is recorded; only its signature waits), after `tsa_retry_delay`: the longer
    every TSA has been failing, the longer the wait, up to ten minutes (issue 13). Huey's
    RetryTask does not use up the job's retries."""
    try:
        yield
    except TimestampUnavailable as exc:
        delay = tsa_retry_delay()
        log.warning("no time-stamp authority answered; the job retries in %.0f s", delay)
        raise RetryTask(str(exc), delay=delay) from exc


@contextmanager
def _failure_recorded(job: str, contract_id: object, task: Task | None) -> Iterator[None]:
    """A run that fails is recorded (`JobFailure`, the monthly report's operating record, R33):
    `retried` when Huey runs it again (a RetryTask, or retries left), else given up. The
    failure itself is raised on unchanged; a record that cannot be written is only logged."""
    try:
        yield
    except Exception as exc:
        retried = isinstance(exc, RetryTask) or bool(task is not None and task.retries)
        try:
            job_failure_record(job=job, contract_id=contract_id, retried=retried, error=exc)
        except Exception:
            log.exception("the failure of %s could not be recorded", job)
        raise


@db_task(retries=10, retry_delay=30, context=True)
def apply_signature(
    party_id: int, wait: float = LOCK_WAIT_SECONDS, task: Task | None = None
) -> None:
    contract_id = Party.objects.filter(pk=party_id).values_list("contract_id", flat=True).first()
    with (
        _failure_recorded("apply_signature", contract_id, task),
        _dropped_if_busy(wait),
        _retried_until_a_tsa_answers(),
    ):
        signature_apply(party_id=party_id, wait=wait)


@db_task(retries=10, retry_delay=30, context=True)
def finalize_contract(
    contract_id: str, wait: float = LOCK_WAIT_SECONDS, task: Task | None = None
) -> None:
    with (
        _failure_recorded("finalize_contract", contract_id, task),
        _dropped_if_busy(wait),
        _retried_until_a_tsa_answers(),
    ):
        contract_finalize(contract_id=contract_id, wait=wait)


@db_task(retries=10, retry_delay=30, context=True)
def issue_certificate(contract_id: str, task: Task | None = None) -> None:
    """Issue the certificate of completion of a contract that has no current one (completed
    before certificates were stored, or renewed since; issue 14), when somebody asks for it."""
    with (
        _failure_recorded("issue_certificate", contract_id, task),
        _dropped_if_busy(LOCK_WAIT_SECONDS),
        _retried_until_a_tsa_answers(),
    ):
        certificate_issue(contract_id=uuid.UUID(contract_id), wait=LOCK_WAIT_SECONDS)


@db_task(retries=10, retry_delay=30)
def stamp_import(document_id: int, wait: float = LOCK_WAIT_SECONDS) -> None:
    """The document timestamp of an imported file (R30), retried while no TSA answers."""
    with _dropped_if_busy(wait), _retried_until_a_tsa_answers():
        import_stamp(document_id=document_id, wait=wait)


@periodic_task(crontab(minute="*"))
def sweep() -> None:
    """Queue again the agreements and completions whose job was lost.

    Once a minute across every consumer (periodic_task); a constant number of queries, then
    one job per overdue piece of work (signature_sweep). No lock held across runs: a lock kept
    by a killed consumer would stop every later sweep; each contract's lease ends by itself.
    """
    signature_sweep(older_than=timedelta(seconds=settings.KEIYAKU_SWEEP_AFTER_SECONDS))
    # Imported files whose timestamp job was lost (R30).
    import_stamp_sweep(older_than=timedelta(seconds=settings.KEIYAKU_SWEEP_AFTER_SECONDS))


@periodic_task(crontab(minute="*/5"))
def check_deadlines() -> None:
    """Automatic reminders before the signing deadline, expiry after it (R11).

    Each reminder and expiry is claimed with a conditional update, so overlapping runs are safe.
    """
    deadlines_check()


@periodic_task(crontab(minute="23"))
def renew_archives() -> None:
    """Archival renewal (R21), every hour across every consumer: queues one run, which renews
    at most KEIYAKU_RENEWAL_BATCH due documents one after the other in one worker thread, so
    that renewals never crowd signing jobs out of the queue."""
    renew_archives_batch()


@periodic_task(crontab(minute="7", hour="0-8"))
def send_renewal_alerts() -> None:
    """Renewal alerts (R31): once an hour from 9:07 to 17:07 JST (Huey's crontab is in UTC),
    across every consumer. Each alert goes out once (`renewal_alerts_send`), so the runs after
    the first in a day send only what a missed run left: a worker down at 9:07 delays the day's
    alerts by an hour, not a day, and nobody is mailed at night."""
    renewal_alerts_send()


@db_task()
def renew_archives_batch() -> None:
    """One run of the archival renewal (`archive_renewal_run`). Safe beside another run and
    after a killed one: what the killed run had not stored is due again."""
    archive_renewal_run()


@on_startup()
def resume_after_restart() -> None:
    """A restarted worker first queues again what a killed one left: nothing waits for the
    clock. Its jobs wait for the killed consumer's lease to end (it may have held the contract
    a moment ago), then do the work."""
    close_old_connections()
    try:
        signature_sweep(older_than=timedelta(0), wait=LOCK_WAIT_SECONDS)
    finally:
        close_old_connections()
