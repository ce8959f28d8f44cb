"""What a signer takes away after completion (R23, R24): the signed PDFs and the certificate of
completion, to whoever the caller has already established may have them (the staff contract
page, a counterparty's download link, a counterparty's free account).

One place for the three ways in, so that they serve the same files under the same names and
ask for a certificate in the same way: a certificate that is outdated (an archival renewal) or
not issued yet (a contract completed before certificates were stored) is queued for the worker,
and the caller says it is being prepared; the next visit has it. A web request never waits for
a time-stamp authority.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.contracts.models import Contract, DocumentVersion, Party
from keiyaku.contracts.selectors import document_final_versions
from keiyaku.contracts.services.certificates import certificate_current
from keiyaku.storage.blobs import blob_get


@dataclass(frozen=True)
class Download:
    """A file to hand over: its bytes and the name the browser saves it under."""

    data: bytes
    filename: str


def signed_filename(version: DocumentVersion) -> str:
    """「署名済み_<file name>」, the name every signed PDF is saved under."""
    return _("署名済み_%(filename)s") % {"filename": version.document.filename}


def certificate_filename(contract: Contract) -> str:
    """「締結証明書_<certificate ID>.pdf」 (R22, R24)."""
    return _("締結証明書_%(certificate_id)s.pdf") % {"certificate_id": contract.certificate_id}


def signed_version(contract: Contract, document_id: int) -> DocumentVersion | None:
    """The signed (final) version of one of ``contract``'s documents, or None: no such
    document in this contract, or not signed by everybody yet."""
    for version in document_final_versions(contract):
        if version.document_id == document_id:
            return version
    return None


def certificate_requested(contract: Contract) -> bytes | None:
    """The certificate of completion of a concluded ``contract`` (PDF bytes), or None after
    queueing its issue (``tasks.issue_certificate``, idempotent): the caller tells the person
    it is being prepared and that the next visit has it (issue 14)."""
    pdf = certificate_current(contract)
    if pdf is None:
        from keiyaku.contracts.tasks import issue_certificate

        issue_certificate(str(contract.pk))
    return pdf


def party_download_record(
    *, party: Party, what: str, filename: str, sha256: str, via: str, meta: RequestMeta
) -> None:
    """Audit a counterparty's download from its completion link (R39): ``what`` is
    "document.download" or "certificate.download", ``via`` names the way in. Recorded in the
    organisation's log, as the party's downloads from the signing link are; a download from a
    counterparty's free account is the account's own business and is recorded by
    ``keiyaku.counterparty_accounts`` without the organisation (R3)."""
    audit_record(
        event=what,
        organisation=party.contract.organisation,
        actor_label=f"{party.company} {party.name} <{party.email}>".strip(),
        subject=party.contract.audit_subject,
        detail={"filename": filename, "sha256": sha256, "via": via},
        meta=meta,
    )


def document_download(contract: Contract, document_id: int) -> Download | None:
    """The signed PDF of one document of a concluded contract, or None (no such document)."""
    version = signed_version(contract, document_id)
    if version is None:
        return None
    return Download(blob_get(version.blob), signed_filename(version))
