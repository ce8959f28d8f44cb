"""The background side of the flow: signatures, advancing the routing, completion.

Every function here is idempotent: a job may run twice (retries, the sweeper), and the state
guards (conditional updates) make the second run do nothing.

A contract's signing and completion work never runs twice at the same time, whichever consumer
process runs it: each holds the contract's lease (`contract_lock`, keiyaku.jobs.leases) while it
works and confirms it in the transaction that stores its result. Without it, parallel parties'
jobs each signed the same version and all but one started again (issue 11).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from keiyaku.audit.services import audit_record
from keiyaku.contracts.models import (
    Contract,
    ContractStatus,
    DocumentVersion,
    Party,
    PartyStatus,
    RenewalReason,
    VersionKind,
)
from keiyaku.contracts.services.archive_timestamps import archive_timestamp_record
from keiyaku.contracts.services.boxes import box_fill_for
from keiyaku.contracts.services.certificates import certificate_make, certificate_store
from keiyaku.contracts.services.notify import completion_notify
from keiyaku.contracts.services.routing import advance
from keiyaku.contracts.states import (
    CONTRACT_RUNNING,
    PARTY_ACTIVE,
    PARTY_DONE,
    PARTY_SIGNING,
    contract_sources,
    party_sources,
)
from keiyaku.contracts.timefmt import jst_timestamp
from keiyaku.jobs.leases import LeaseBusy, lease_confirm, lease_hold
from keiyaku.signing import archive, budget, engine
from keiyaku.signing.certificates import document_certificates
from keiyaku.signing.finalising import finalize_budgeted
from keiyaku.signing.keys import (
    get_service_signer,
    get_timestamper,
    get_validation_inputs,
    service_certificate_record,
)
from keiyaku.signing.tsas import tsa_attempts_record, tsa_outage_since
from keiyaku.storage.blobs import blob_get, blob_put
from keiyaku.webhooks.models import WebhookEvent
from keiyaku.webhooks.services import webhook_emit

log = logging.getLogger(__name__)


def signature_reason(party: Party) -> str:
    """The reason text of R20, as Acrobat's signature panel shows it."""
    assert party.agreed_at is not None
    who = f"{party.company} {party.name}".strip()
    return f"{who} 様 [{party.email}] が {jst_timestamp(party.agreed_at)} JSTに承認しました"


class _Stale(Exception):
    """A document gained a version while this signature was being made."""


# Each signature is made on the current version and stored only if that version is still
# current, otherwise made again on the new one: under the contract's lease a version changes
# only when a holder lost its lease (stalled), or a staff action added one.
SIGNING_ATTEMPTS = 5

LOCK_WAIT_SECONDS = 60
"""How long a job waits for its contract's lease (s) before failing, for Huey to retry it 30 s
later: a signature takes well under a second, a completion a few seconds, so dozens of parallel
parties' jobs get their turn within it; kept short so that stopping a consumer gracefully does
not wait long for jobs that have not started."""

ContractBusy = LeaseBusy


@contextmanager
def contract_lock(contract_id: uuid.UUID | str, *, wait: float) -> Iterator[str]:
    """Hold contract `contract_id`'s lease for the block; its key is given to the block for
    `lease_confirm`. Waits up to `wait` seconds (0: try once); raises ContractBusy after that."""
    key = f"contract:{contract_id}"
    with lease_hold(key, wait=wait):
        yield key


def signature_apply(*, party_id: int, wait: float = LOCK_WAIT_SECONDS) -> bool:
    """Sign every document for one agreed party. Returns False when there was nothing to do.

    Holds the contract's lease, waiting up to `wait` seconds for it (ContractBusy after that).
    """
    contract_id = Party.objects.values_list("contract_id", flat=True).get(pk=party_id)
    with contract_lock(contract_id, wait=wait) as key:
        began = timezone.now()
        for _attempt in range(SIGNING_ATTEMPTS):
            try:
                return _sign_once(party_id, lease=key, began=began)
            except (_Stale, IntegrityError):
                continue
    raise RuntimeError(f"party {party_id}: documents kept changing while signing")


def _sign_once(party_id: int, *, lease: str, began: datetime) -> bool:
    party = Party.objects.select_related("contract__keyring").get(pk=party_id)
    contract = party.contract
    if party.status not in party_sources(PartyStatus.SIGNED) or not contract.is_running:
        return False
    base = [(doc, doc.current_version()) for doc in contract.documents.all()]
    signer, timestamper = get_service_signer(), get_timestamper()
    service_certificate_record(signer.cert)  # judged as ours after any later rotation
    reason = signature_reason(party)
    signed = []
    try:
        for doc, version in base:
            data = engine.sign_agreement(
                blob_get(version.blob),
                field_name=party.signature_field,
                reason=reason,
                signer=signer,
                timestamper=timestamper,
                contact_info=party.email,
                fill=box_fill_for(party, doc) or None,
            )
            signed.append((doc, version, blob_put(keyring=contract.keyring, data=data)))
    finally:
        tsa_attempts_record(timestamper.drain())  # issue 13: the operator sees each TSA
    with transaction.atomic():
        lease_confirm(lease)
        now = timezone.now()
        changed = Party.objects.filter(
            pk=party.pk,
            status__in=party_sources(PartyStatus.SIGNED),
            contract__status__in=CONTRACT_RUNNING,
        ).update(status=PartyStatus.SIGNED, signed_at=now)
        if changed != 1:
            return False  # another run signed first, or the contract stopped meanwhile
        for doc, version, blob in signed:
            if doc.current_version().seq != version.seq:
                raise _Stale  # rolls back the party's state change too
            # (document, seq) is unique: a concurrent writer makes this fail, not fork.
            DocumentVersion.objects.create(
                document=doc, seq=version.seq + 1, kind=VersionKind.SIGNED, blob=blob, party=party
            )
        Contract.objects.filter(pk=contract.pk).update(last_activity_at=now)
        audit_record(
            event="signature.apply",
            organisation=contract.organisation,
            subject=contract.audit_subject,
            detail={
                "position": party.position,
                "documents_sha256": {str(doc.pk): blob.sha256 for doc, _, blob in signed},
                # When this job took the contract: with the entry's own time, its span.
                "began_at": began.isoformat(),
            },
        )
        advance(contract)
    return True


def contract_finalize(*, contract_id: uuid.UUID | str, wait: float = LOCK_WAIT_SECONDS) -> bool:
    """Add validation data and a document timestamp (B-LTA), then announce completion (R21, R23).

    Holds the contract's lease, waiting up to `wait` seconds for it (ContractBusy after that).
    """
    with contract_lock(contract_id, wait=wait) as key:
        return _finalize(contract_id, lease=key, began=timezone.now())


def _finalize(contract_id: uuid.UUID | str, *, lease: str, began: datetime) -> bool:
    contract = Contract.objects.select_related("keyring").get(pk=contract_id)
    if not contract.is_running:
        return False
    parties = contract.parties.filter(status__in=PARTY_ACTIVE)
    if not parties.exists() or parties.exclude(status__in=PARTY_DONE).exists():
        return False
    current = [(doc, doc.current_version()) for doc in contract.documents.all()]
    pdfs = [blob_get(version.blob) for _doc, version in current]
    # Validation data for every chain involved (signing and TSA, keiyaku's own or external,
    # issue 13): gathered before anything is written, and without all of it nothing is
    # (ValidationDataUnavailable: the job fails and is retried). Parsing runs under the
    # validation budget, in a child process (issue 10, finding 7), as finalising does.
    timestamper = get_timestamper()
    try:
        context = get_validation_inputs(
            documents=[budget.run(document_certificates, pdf) for pdf in pdfs],
            timestamper=timestamper,
        )
    finally:
        tsa_attempts_record(timestamper.drain())  # the TSA asked here, in this process
    finals = []
    for (doc, version), pdf in zip(current, pdfs, strict=True):
        # Under the validation budget, in a child process (issue 10, finding 7); the child's
        # TSA attempts come back with its answer (issue 13).
        data = finalize_budgeted(pdf, timestamper=timestamper, validation_context=context)
        # What the document timestamp rests on, for its renewal (R21): read from our own
        # output's signature dictionaries, no validation.
        stamp = archive.newest_document_timestamp(data)
        assert stamp is not None  # engine.finalize has just added one
        finals.append((doc, version, blob_put(keyring=contract.keyring, data=data), stamp))
    # The certificate of completion, signed like the documents (issue 14), vouching for each
    # document's final version by its hash: made before anything is stored, so a contract is
    # never completed without it. The service signer's chain and the TSA are in `context`.
    now = timezone.now()
    try:
        certificate = certificate_make(
            contract=contract,
            completed_at=now,
            signed={doc.pk: blob.sha256 for doc, _, blob, _ in finals},
            timestamper=timestamper,
            validation_context=context,
        )
    finally:
        tsa_attempts_record(timestamper.drain())
    certificate_blob = blob_put(keyring=contract.keyring, data=certificate)
    with transaction.atomic():
        lease_confirm(lease)
        changed = Contract.objects.filter(
            pk=contract.pk, status__in=contract_sources(ContractStatus.COMPLETED)
        ).update(status=ContractStatus.COMPLETED, completed_at=now, last_activity_at=now)
        if changed != 1:
            return False
        for doc, version, blob, stamp in finals:
            final = DocumentVersion.objects.create(
                document=doc, seq=version.seq + 1, kind=VersionKind.COMPLETED, blob=blob
            )
            archive_timestamp_record(
                version=final, info=stamp, reason=RenewalReason.COMPLETED, now=now
            )
        contract.refresh_from_db()
        certificate_store(contract=contract, blob=certificate_blob, issued_at=now)
        audit_record(
            event="contract.complete",
            organisation=contract.organisation,
            subject=contract.audit_subject,
            detail={
                "documents_sha256": {str(doc.pk): blob.sha256 for doc, _, blob, _ in finals},
                "began_at": began.isoformat(),
            },
        )
        completion_notify(contract=contract)
        webhook_emit(contract=contract, event=WebhookEvent.COMPLETED)
    return True


SWEEP_QUERIES = 3
"""The SQL queries one sweep runs, however many contracts are overdue (issue 12: it ran two
per contract in progress, 30,440 queries and 22 s for 15,000): the TSAs' state, then the two
of `overdue_work`."""


def overdue_work(*, older_than: timedelta) -> tuple[list[int], list[uuid.UUID]]:
    """What the sweeper must restart: (party ids whose signature is overdue, contract ids whose
    completion is overdue), in two set-based queries (SWEEP_QUERIES), whatever their number.

    A signature is overdue when its party agreed (PARTY_SIGNING) more than `older_than` ago in
    a running contract. A completion is overdue when a running contract has not moved for
    `older_than`, has at least one active party, and no active party that is not done: an
    anti-join (NOT EXISTS), so that contracts still waiting for somebody are never loaded.
    """
    limit = timezone.now() - older_than
    party_ids = list(
        Party.objects.filter(
            status__in=PARTY_SIGNING,
            agreed_at__lte=limit,
            contract__status__in=CONTRACT_RUNNING,
        )
        .order_by("agreed_at", "pk")
        .values_list("pk", flat=True)
    )
    active = Party.objects.filter(contract=OuterRef("pk"), status__in=PARTY_ACTIVE)
    contract_ids = list(
        Contract.objects.filter(status__in=CONTRACT_RUNNING, last_activity_at__lte=limit)
        .filter(Exists(active))
        .exclude(Exists(active.exclude(status__in=PARTY_DONE)))
        .order_by("last_activity_at", "pk")
        .values_list("pk", flat=True)
    )
    return party_ids, contract_ids


def signature_sweep(*, older_than: timedelta = timedelta(minutes=2), wait: float = 0) -> int:
    """Queue again the work whose job was lost (a consumer killed between agreement and
    signature, or while it signed or completed). Returns how many jobs it queued.

    Finds the work in SWEEP_QUERIES queries (`overdue_work`) and queues one job per overdue
    signature or completion, so that the sweep takes milliseconds and the work spreads over
    every consumer instead of holding the sweeper's worker thread (issue 12). By default those
    jobs do not wait for their contract's lease (`wait=0`): a job holding it is alive and does
    the work, or it died and its lease ends within KEIYAKU_JOB_LEASE_SECONDS, in time for a
    later sweep. A restarted consumer's first sweep has no later sweep to count on when the
    periodic tasks are off, so it passes `wait` (seconds, LOCK_WAIT_SECONDS): its jobs wait out
    the dead consumer's lease. A job queued twice (by two sweeps, or beside the original) does
    nothing the second time.

    While every TSA fails (`tsa_outage_since`), the periodic sweep (`wait=0`) queues nothing:
    the jobs already queued retry with back-off (tasks.py), and queuing more each minute would
    undo it (issue 13). A restarted consumer's sweep still queues.
    """
    from keiyaku.contracts.tasks import apply_signature, finalize_contract

    if not wait and tsa_outage_since() is not None:
        log.warning("sweep: every time-stamp authority is failing; waiting jobs retry on their own")
        return 0
    party_ids, contract_ids = overdue_work(older_than=older_than)
    for party_id in party_ids:
        apply_signature(party_id, wait=wait)
    for contract_id in contract_ids:
        finalize_contract(str(contract_id), wait=wait)
    return len(party_ids) + len(contract_ids)
