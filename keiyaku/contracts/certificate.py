"""The certificate of completion (締結証明書, R24) of a completed contract, built from its records."""

from __future__ import annotations

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


def certificate_data(contract: Contract) -> CertificateData:
    assert contract.completed_at is not None
    finals = {v.document_id: v for v in document_final_versions(contract)}
    documents = [
        CertificateDocument(
            name=doc.filename, sha256=finals[doc.pk].blob.sha256, pages=doc.page_count
        )
        for doc in contract.documents.all()
        if doc.pk in finals
    ]
    parties = []
    done = contract.parties.filter(status__in=PARTY_DONE)
    for party in done.order_by("position"):
        assert party.agreed_at is not None
        if party.is_approver:
            role = "承認者（事前承認）"
        else:
            role = "署名者（事業者）" if party.kind == PartyKind.EXTERNAL else "署名者（職員）"
        if party.forwarded_from is not None:
            role += f"（{party.forwarded_from.name} 様から転送）"
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
        completed_at=contract.completed_at,
        final_sha256=documents[0].sha256 if len(documents) == 1 else None,
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
