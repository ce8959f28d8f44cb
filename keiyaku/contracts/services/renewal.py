"""Archival renewal with no end (R21): a new document timestamp before the old one loses its
strength, as a new stored version.

A completed document ends in a document timestamp (PAdES B-LTA). Its proof lasts while that
timestamp's TSA certificate is valid and its algorithms are trusted. `archive_renewal_run` (the
hourly job, keiyaku.contracts.tasks) finds the documents whose newest timestamp is due
(`renewals_due`: the TSA certificate ends within KEIYAKU_RENEWAL_MARGIN_DAYS, or
KEIYAKU_RENEWAL_POLICY retires one of its algorithms) and renews each (`document_renew`): the
validation data of the old timestamp and a new document timestamp over everything, stored as a
new DocumentVersion (kind RENEWED); the old version stays (storage is write-once).

Invariants:
- What a document's newest timestamp rests on is an `ArchiveTimestamp` row, written in the
  transaction that stores its version (completion, renewal); due documents are found from these
  rows in a few indexed queries, never by opening PDFs.
- A renewal is stored, recorded (the next row, `renews` the old one) and audited in one
  transaction, under the contract's lease, after a conditional update turned the old row off:
  a run killed at any point leaves the old version current and its row due, and the next run
  renews it; no timestamp is renewed twice (`renews` is unique, the update must change 1 row).
- Each run renews at most KEIYAKU_RENEWAL_BATCH documents, the most urgent first (earliest
  deadline: the certificate's expiry, or the policy date). A random jitter per row (up to
  KEIYAKU_RENEWAL_SPREAD_DAYS) moves a document's turn earlier, so that 10,000 documents stamped
  under one certificate come due over weeks, not in one hour.
- A renewal whose new timestamp would itself be due (the TSA's certificate ends within the
  margin, or it uses a retired algorithm) is not stored: the run stops and says why, instead of
  renewing every document again at every run.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import cms
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

from keiyaku.audit.services import audit_record
from keiyaku.contracts.models import (
    ArchiveTimestamp,
    DocumentVersion,
    RenewalReason,
    VersionKind,
)
from keiyaku.contracts.services.archive_timestamps import (
    archive_timestamp_record,
    renewal_margin,
)
from keiyaku.contracts.services.certificates import certificate_outdate
from keiyaku.contracts.services.progress import ContractBusy, contract_lock
from keiyaku.jobs.leases import lease_confirm
from keiyaku.signing import archive, engine
from keiyaku.signing.archive import Retirement
from keiyaku.storage.blobs import blob_discard, blob_get, blob_put
from keiyaku.webhooks.models import WebhookEvent
from keiyaku.webhooks.services import webhook_emit

__all__ = [
    "Due",
    "RenewalUseless",
    "RunSummary",
    "archive_renewal_run",
    "archive_timestamp_record",
    "archive_timestamps_backfill",
    "document_renew",
    "renewals_due",
]

logger = logging.getLogger(__name__)


class RenewalUseless(Exception):
    """The timestamp a renewal would store is itself due: the configured TSA's certificate ends
    within the margin, or it uses an algorithm the policy retires. Nothing was stored."""


@dataclass(frozen=True)
class Due:
    """One document whose newest timestamp is due for renewal."""

    record_id: int
    """The ArchiveTimestamp row of the newest timestamp."""
    document_id: int
    contract_id: uuid.UUID
    reason: str
    """RenewalReason.TSA_EXPIRY or RenewalReason.ALGORITHM."""
    detail: str
    """The expiry date, or the policy entry (``"rsa2048 after 2035-01-01"``)."""
    deadline: datetime
    """What urgency is ordered by: the certificate's expiry, or the policy date + jitter."""


@dataclass
class RunSummary:
    """What one run did."""

    recorded: int = 0
    """Final versions stored before renewal existed, recorded from their PDF."""
    due: int = 0
    renewed: int = 0
    busy: int = 0
    """Skipped: another job held the contract; the next run takes them."""
    failed: int = 0
    stopped: str = ""
    """Why the run stopped early (no TSA answered, a useless renewal), or empty."""
    errors: list[str] = field(default_factory=list)


def _policy() -> tuple[Retirement, ...]:
    return tuple(settings.KEIYAKU_RENEWAL_POLICY)


def renewals_due(*, now: datetime | None = None, limit: int | None = None) -> list[Due]:
    """The documents due for renewal at ``now``, most urgent first, at most ``limit``
    (KEIYAKU_RENEWAL_BATCH). One indexed query for expiry plus one per policy entry in force,
    whatever the number of documents."""
    now = now or timezone.now()
    limit = settings.KEIYAKU_RENEWAL_BATCH if limit is None else limit
    current = ArchiveTimestamp.objects.filter(current=True)
    columns = ("pk", "document_id", "document__contract_id")
    found: dict[int, Due] = {}

    def add(row: tuple[int, int, uuid.UUID], reason: str, detail: str, deadline: datetime) -> None:
        known = found.get(row[0])
        if known is None or deadline < known.deadline:
            found[row[0]] = Due(row[0], row[1], row[2], reason, detail, deadline)

    expiring = (
        current.filter(expiry_due_at__lte=now + renewal_margin())
        .order_by("tsa_not_after", "pk")
        .values_list(*columns, "tsa_not_after")[:limit]
    )
    for *row, not_after in expiring:
        add(tuple(row), RenewalReason.TSA_EXPIRY, not_after.date().isoformat(), not_after)  # type: ignore[arg-type]
    for entry in archive.retired(_policy(), now=now):
        uses = (
            Q(digest_algorithm=entry.algorithm) | Q(tsa_digest_algorithm=entry.algorithm)
            if entry.is_digest
            else Q(key_algorithm=entry.algorithm)
        )
        waited = int((now - entry.after).total_seconds())
        rows = (
            current.filter(uses, jitter_seconds__lte=waited)
            .order_by("jitter_seconds", "pk")
            .values_list(*columns, "jitter_seconds")[:limit]
        )
        for *row, jitter in rows:
            deadline = entry.after + timedelta(seconds=jitter)
            add(tuple(row), RenewalReason.ALGORITHM, str(entry), deadline)  # type: ignore[arg-type]
    return sorted(found.values(), key=lambda due: (due.deadline, due.record_id))[:limit]


class _Recording(TimeStamper):
    """A timestamper that keeps the last token it returned: the one a renewal has just
    embedded (pyHanko's first call, for the TSA's certificates, comes before it), read without
    parsing the whole PDF again."""

    def __init__(self, inner: TimeStamper) -> None:
        super().__init__()
        self.inner = inner
        self.last: cms.ContentInfo | None = None

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        token = await self.inner.async_timestamp(message_digest, md_algorithm)
        self.last = token
        return token


@dataclass
class _Run:
    """What every renewal of one run shares: one timestamper (pyHanko asks the TSA for its
    certificates once) and one validation context (each chain is validated once)."""

    now: datetime
    digest: str
    timestamper: _Recording
    context: ValidationContext


def _start_run(now: datetime) -> _Run:
    from keiyaku.signing.keys import get_timestamper, get_validation_context

    timestamper = get_timestamper()
    return _Run(
        now=now,
        digest=archive.renewal_digest(_policy(), now=now),
        timestamper=_Recording(timestamper),
        # The TSA that will stamp is asked once here, so that its chain's validation data
        # (fetched from its own URLs when it is not keiyaku's) is in the context (issue 13).
        context=get_validation_context(timestamper=timestamper),
    )


def document_renew(*, due: Due, run: _Run | None = None) -> bool:
    """Renew one document's newest timestamp: a new version holding the old timestamp's
    validation data and a new document timestamp, its ArchiveTimestamp row and the audit entry
    (``contract.renew``), in one transaction under the contract's lease. Returns False when
    there was nothing to do (renewed meanwhile).

    Raises ContractBusy when another job holds the contract (no wait: the next run takes it),
    TimestampUnavailable when no TSA answers, RenewalUseless when the new timestamp would
    itself be due; nothing is stored in either case. Rule: R21.
    """
    run = run or _start_run(timezone.now())
    with contract_lock(due.contract_id, wait=0) as lease:
        record = ArchiveTimestamp.objects.select_related(
            "version__blob__keyring", "document__contract__organisation"
        ).get(pk=due.record_id)
        if not record.current:
            return False
        version, document = record.version, record.document
        contract = document.contract
        run.timestamper.last = None
        data = engine.renew(
            blob_get(version.blob),
            timestamper=run.timestamper,
            validation_context=run.context,
            md_algorithm=run.digest,
        )
        assert run.timestamper.last is not None  # engine.renew has just embedded it
        info = archive.timestamp_info(run.timestamper.last["content"])
        still = archive.due_reason(info, now=run.now, margin=renewal_margin(), policy=_policy())
        if still is not None:
            raise RenewalUseless(
                f"the new timestamp from {info.tsa_name} would be due at once ({still[0]}: "
                f"{still[1]}): configure a TSA whose certificate and algorithms outlast the "
                "margin and the policy"
            )
        blob = blob_put(keyring=contract.keyring, data=data)
        try:
            with transaction.atomic():
                lease_confirm(lease)
                turned_off = ArchiveTimestamp.objects.filter(pk=record.pk, current=True).update(
                    current=False
                )
                if turned_off != 1:
                    raise _Renewed
                renewed = DocumentVersion.objects.create(
                    document=document, seq=version.seq + 1, kind=VersionKind.RENEWED, blob=blob
                )
                archive_timestamp_record(
                    version=renewed,
                    info=info,
                    reason=due.reason,
                    detail=due.detail,
                    renews=record,
                    now=run.now,
                )
                # What the certificate of completion states has changed: the next download
                # has the next one issued (issue 14). Not here: signing a certificate costs
                # more than the renewal itself, and most are never asked for again.
                certificate_outdate(contract_id=contract.pk)
                audit_record(
                    event="contract.renew",
                    organisation=contract.organisation,
                    subject=contract.audit_subject,
                    detail={
                        "document": document.pk,
                        "filename": document.filename,
                        "sha256": blob.sha256,
                        "previous_sha256": version.blob.sha256,
                        "tsa": info.tsa_name,
                        "gen_time": info.gen_time.isoformat(),
                        "reason": due.reason,
                        "reason_detail": due.detail,
                    },
                )
                webhook_emit(
                    contract=contract,
                    event=WebhookEvent.RENEWED,
                    extra={"document": {"id": document.pk, "version": renewed.seq}},
                )
        except (_Renewed, IntegrityError):
            blob_discard(blob)  # renewed meanwhile: this copy is nobody's
            return False
    return True


class _Renewed(Exception):
    """Another run renewed the timestamp first."""


def archive_timestamps_backfill(*, limit: int, now: datetime | None = None) -> int:
    """Record the newest document timestamp of final versions that have no ArchiveTimestamp
    row (stored before renewal existed), at most ``limit`` a run; returns how many.

    A final version is the newest of its document and ends in a document timestamp; its PDF
    is read once, here. Rule: R21 (every completed document is renewed, old ones too).
    """
    later = DocumentVersion.objects.filter(document=OuterRef("document"), seq__gt=OuterRef("seq"))
    missing = (
        DocumentVersion.objects.filter(
            kind__in=[VersionKind.COMPLETED, VersionKind.RENEWED],
            archive_timestamp__isnull=True,
        )
        .exclude(Exists(later))
        .select_related("blob__keyring")
        .order_by("pk")[:limit]
    )
    recorded = 0
    for version in missing:
        info = archive.newest_document_timestamp(blob_get(version.blob))
        if info is None:
            logger.warning("renewal: version %s has no document timestamp", version.pk)
            continue
        reason = (
            RenewalReason.COMPLETED
            if version.kind == VersionKind.COMPLETED
            else RenewalReason.RECORDED
        )
        try:
            with transaction.atomic():
                archive_timestamp_record(version=version, info=info, reason=reason, now=now)
        except IntegrityError:
            continue  # recorded meanwhile by another run
        recorded += 1
    return recorded


def archive_renewal_run(*, limit: int | None = None) -> RunSummary:
    """One run of the archival renewal (the hourly job): record what older final versions rest
    on, then renew the due documents, most urgent first, at most ``limit``
    (KEIYAKU_RENEWAL_BATCH). Safe to run beside another run and after a run that was killed.
    Rule: R21."""
    limit = settings.KEIYAKU_RENEWAL_BATCH if limit is None else limit
    now = timezone.now()
    summary = RunSummary()
    summary.recorded = archive_timestamps_backfill(limit=limit, now=now)
    due = renewals_due(now=now, limit=limit)
    summary.due = len(due)
    if not due:
        return summary
    try:
        run = _start_run(now)
    except ValueError as exc:  # the policy retires every hash a renewal could use
        summary.stopped = str(exc)
        logger.error("renewal: %s", exc)
        return summary
    for item in due:
        try:
            if document_renew(due=item, run=run):
                summary.renewed += 1
        except ContractBusy:
            summary.busy += 1
        except (engine.TimestampUnavailable, RenewalUseless) as exc:
            summary.stopped = str(exc)
            logger.error("renewal stopped after %d: %s", summary.renewed, exc)
            break
        except Exception as exc:  # one damaged document must not stop the others
            summary.failed += 1
            summary.errors.append(f"document {item.document_id}: {exc}")
            logger.exception("renewal of document %s failed", item.document_id)
    logger.info(
        "renewal: %d due, %d renewed, %d busy, %d failed, %d recorded",
        summary.due,
        summary.renewed,
        summary.busy,
        summary.failed,
        summary.recorded,
    )
    return summary
