"""Issuing the certificate of completion (締結証明書, R24) as a signed PDF (issue 14).

The certificate states what the records say (``keiyaku.contracts.certificate``) and is signed
like a contract: the service key's signature with a signature timestamp, then validation data
and a document timestamp (PAdES B-LTA), so that a change to it shows in any validator and on
the verification page. Signing needs a TSA, so it is done in the worker, never in a web
request:

- at completion, by ``progress._finalize``, in the transaction that completes the contract
  (:func:`certificate_make`), so the completion mail and every download have it;
- after an archival renewal changed what it states (``renewal.document_renew`` turns the
  current one off with :func:`certificate_outdate`), and for a contract completed before
  certificates were stored: when somebody next asks for it, the download queues
  ``tasks.issue_certificate`` (:func:`certificate_current` is None). Not in the renewal run:
  signing a certificate costs more than the renewal itself (two TSA calls and a validation
  child), and most certificates of renewed contracts are never asked for again.

As in ``progress``, the key signs in this process and the validation data and document
timestamp are added in a validation child (``keiyaku.signing.budget``), which never holds the
key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from keiyaku.audit.services import audit_record
from keiyaku.contracts.certificate import certificate_data
from keiyaku.contracts.certificate_pdf import render_certificate
from keiyaku.contracts.models import CompletionCertificate, Contract
from keiyaku.jobs.leases import lease_confirm
from keiyaku.signing import engine
from keiyaku.signing.finalising import finalize_budgeted
from keiyaku.signing.keys import (
    get_service_signer,
    get_timestamper,
    get_validation_inputs,
    service_certificate_record,
)
from keiyaku.signing.timestamping import FailoverTimeStamper
from keiyaku.signing.tsas import tsa_attempts_record
from keiyaku.signing.verdict import CERTIFICATE_FIELD
from keiyaku.storage.blobs import blob_get, blob_put
from keiyaku.storage.models import Blob


def certificate_reason(certificate_id: str) -> str:
    """The reason text of the certificate's signature, as a signature panel shows it."""
    return f"締結証明書 {certificate_id} を発行しました"


def certificate_make(
    *,
    contract: Contract,
    completed_at: datetime | None = None,
    signed: Mapping[int, str] | None = None,
    timestamper: FailoverTimeStamper,
    validation_context: engine.ValidationInputs,
) -> bytes:
    """The signed certificate of ``contract`` as PDF bytes (B-LTA). ``completed_at`` and
    ``signed`` (document pk → hex SHA-256 of its signed PDF) as for
    :func:`~keiyaku.contracts.certificate.certificate_data`. ``validation_context`` must cover
    the service signer's chain and the TSA ``timestamper`` reaches (``get_validation_inputs``
    gathers both). Stores nothing.

    Raises CertificateUnavailable when a document has no signed version, MissingGlyphError
    when a value cannot be drawn, TimestampUnavailable when no TSA answers, BudgetExceeded
    when finalising exceeds the validation budget.
    """
    pdf = render_certificate(certificate_data(contract, completed_at=completed_at, signed=signed))
    pdf = engine.prepare(pdf, field_names=[CERTIFICATE_FIELD])
    signer = get_service_signer()
    service_certificate_record(signer.cert)
    pdf = engine.sign_agreement(
        pdf,
        field_name=CERTIFICATE_FIELD,
        reason=certificate_reason(contract.certificate_id),
        signer=signer,
        timestamper=timestamper,
    )
    return finalize_budgeted(pdf, timestamper=timestamper, validation_context=validation_context)


def certificate_store(*, contract: Contract, blob: Blob, issued_at: datetime) -> None:
    """Record ``blob`` as ``contract``'s current certificate and audit it. Call inside the
    transaction that holds the contract's lease (and, at completion, completes it)."""
    CompletionCertificate.objects.filter(contract=contract, current=True).update(current=False)
    CompletionCertificate.objects.create(
        contract=contract, blob=blob, issued_at=issued_at, current=True
    )
    audit_record(
        event="certificate.issue",
        organisation=contract.organisation,
        subject=contract.audit_subject,
        detail={"sha256": blob.sha256},
    )


def certificate_outdate(*, contract_id: uuid.UUID) -> None:
    """The contract's current certificate no longer states what its records say (a document
    was renewed): the next download has a new one issued. Call in the changing transaction."""
    CompletionCertificate.objects.filter(contract_id=contract_id, current=True).update(
        current=False
    )


def certificate_issue(
    *,
    contract_id: uuid.UUID,
    timestamper: FailoverTimeStamper | None = None,
    validation_context: engine.ValidationInputs | None = None,
    wait: float = 0,
) -> bool:
    """Issue the certificate of a completed contract that has no current one, under the
    contract's lease (waiting up to ``wait`` seconds, ContractBusy after that). Returns False
    when there was nothing to do. ``timestamper`` and ``validation_context`` may be shared by
    a run over many contracts; by default they are made here.

    Raises what :func:`certificate_make` raises; nothing is stored then.
    """
    from keiyaku.contracts.services.progress import contract_lock

    with contract_lock(contract_id, wait=wait) as lease:
        contract = Contract.objects.select_related("keyring", "organisation").get(pk=contract_id)
        if not contract.has_certificate or contract.completion_certificates.filter(current=True):
            return False
        own_timestamper = timestamper is None
        stamper = timestamper if timestamper is not None else get_timestamper()
        try:
            context = validation_context or get_validation_inputs(timestamper=stamper)
            data = certificate_make(
                contract=contract, timestamper=stamper, validation_context=context
            )
        finally:
            if own_timestamper:
                tsa_attempts_record(stamper.drain())
        blob = blob_put(keyring=contract.keyring, data=data)
        with transaction.atomic():
            lease_confirm(lease)
            if CompletionCertificate.objects.filter(contract=contract, current=True).exists():
                return False
            certificate_store(contract=contract, blob=blob, issued_at=timezone.now())
    return True


def certificate_current(contract: Contract) -> bytes | None:
    """The certificate that states what ``contract``'s records say now (PDF bytes), or None:
    none issued yet, or a renewal outdated the last one (then `certificate_issue` makes the
    next)."""
    current = contract.completion_certificates.select_related("blob").filter(current=True).first()
    return blob_get(current.blob) if current is not None else None
