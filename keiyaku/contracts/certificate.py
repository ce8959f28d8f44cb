"""The certificate of completion (締結証明書, R24) of a completed contract, built from its records."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.utils import translation

from keiyaku.applications.selectors import consents_of
from keiyaku.contracts.certificate_pdf import (
    CertificateConsent,
    CertificateData,
    CertificateDocument,
    CertificateParty,
    CertificateRenewal,
    render_certificate,
)
from keiyaku.contracts.models import ArchiveTimestamp, Contract, PartyKind
from keiyaku.contracts.selectors import archive_renewals_of, document_final_versions
from keiyaku.contracts.states import PARTY_DONE


class CertificateUnavailable(ValueError):
    """A document of the contract has no signed version to vouch for (not completed yet)."""


def certificate_data(
    contract: Contract,
    *,
    completed_at: datetime | None = None,
    signed: Mapping[int, str] | None = None,
) -> CertificateData:
    """What the certificate of completion of ``contract`` states, from its records (R24).

    ``signed`` maps each document's pk to the hex SHA-256 of the signed PDF the certificate
    vouches for, and ``completed_at`` is the completion time: both given while the contract is
    being completed (before they are stored, ``progress._finalize``); by default each
    document's current version (completed or renewed) and ``contract.completed_at``. Every
    document is listed, each with its own hash (issue 14: a contract with two PDFs printed
    「（未確定）」 instead). Raises :class:`CertificateUnavailable` when a document has no
    signed version or there is no completion time.
    """
    if signed is None:
        signed = {v.document_id: v.blob.sha256 for v in document_final_versions(contract)}
    completed_at = completed_at or contract.completed_at
    if completed_at is None:
        raise CertificateUnavailable(f"contract {contract.pk} is not completed")
    documents = []
    for doc in contract.documents.select_related("original").order_by("position"):
        if doc.pk not in signed:
            raise CertificateUnavailable(f"document {doc.pk} has no signed version")
        documents.append(
            CertificateDocument(
                name=doc.filename,
                signed_sha256=signed[doc.pk],
                original_sha256=doc.original.sha256,
                pages=doc.page_count,
            )
        )
    parties = []
    done = contract.parties.filter(status__in=PARTY_DONE)
    for party in done.order_by("position"):
        assert party.agreed_at is not None
        if party.is_approver:
            role = "承認者（事前承認）"
        else:
            role = "署名者（事業者）" if party.kind == PartyKind.EXTERNAL else "署名者（職員）"
        forwarder = party.forwarded_from
        parties.append(
            CertificateParty(
                order=party.position,
                role=role,
                company=party.company,
                name=party.name,
                email=party.email,
                agreed_at=party.agreed_at,
                ip=party.agreed_ip or "",
                method=party.get_auth_method_display(),
                user_agent=party.agreed_user_agent,
                forwarded_from=(
                    f"{forwarder.company} {forwarder.name}".strip() if forwarder else ""
                ),
            )
        )
    consents = [
        CertificateConsent(
            company=application.signer_company,
            name=application.signer_name,
            email=application.signer_email,
            consented_at=application.submitted_at,
            ip=application.submitted_ip or "",
            statement=application.consent_text,
            user_agent=application.submitted_user_agent,
        )
        for application in consents_of(contract)
        if application.submitted_at is not None
    ]
    return CertificateData(
        certificate_id=contract.certificate_id,
        title=contract.title,
        management_number=contract.management_number,
        organisation=contract.organisation.name,
        creator=contract.created_by.label,
        created_at=contract.created_at,
        completed_at=completed_at,
        documents=documents,
        parties=parties,
        consents=consents,
        renewals=[
            CertificateRenewal(
                document=stamp.document.filename,
                stamped_at=stamp.gen_time,
                tsa=stamp.tsa_name,
                # The certificate is in Japanese whatever the reader's language.
                reason=_reason_in_japanese(stamp),
            )
            for stamp in archive_renewals_of(contract)
        ],
    )


def _reason_in_japanese(stamp: ArchiveTimestamp) -> str:
    with translation.override("ja"):
        return stamp.reason_shown


def certificate_pdf(contract: Contract) -> bytes:
    return render_certificate(certificate_data(contract))
