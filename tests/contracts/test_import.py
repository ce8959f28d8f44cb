"""Importing contracts concluded elsewhere (R30): stored as they came, then timestamped; found,
downloaded, verified and renewed like concluded ones."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Event
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import (
    ArchiveTimestamp,
    ContractStatus,
    DocumentVersion,
    RenewalReason,
    VersionKind,
)
from keiyaku.contracts.services.importing import (
    ImportFile,
    ImportItem,
    ImportMetadata,
    contracts_import,
    import_stamp_sweep,
)
from keiyaku.contracts.services.renewal import archive_renewal_run
from keiyaku.pki.service import get_authority
from keiyaku.refusals import NotAllowed
from keiyaku.signing import archive, engine
from keiyaku.storage.blobs import blob_get
from tests.contracts.test_timestamp_outage import dead_url
from tests.pdfs import make_pdf, sign_incrementally

pytestmark = pytest.mark.django_db(transaction=True)


def _import(actor, *files: tuple[str, bytes], **metadata):
    metadata.setdefault("title", "庁舎清掃業務委託契約")
    (contract,) = contracts_import(
        actor=actor,
        items=[
            ImportItem(
                metadata=ImportMetadata(**metadata),
                files=[ImportFile(filename=name, data=data) for name, data in files],
            )
        ],
    )
    return contract


def test_an_imported_file_is_kept_as_it_came_and_timestamped(personas):
    original = make_pdf(text="清掃業務委託契約書 札幌ビルサービス")
    contract = _import(
        personas.sender,
        ("清掃契約.pdf", original),
        counterparty_company="株式会社札幌ビルサービス",
        amount=1_980_000,
        contract_date=dt.date(2024, 4, 1),
        period_end=dt.date(2025, 3, 31),
        auto_renew=True,
        notice_deadline=dt.date(2025, 1, 31),
    )
    assert contract.status == ContractStatus.COMPLETED and contract.is_imported
    assert contract.is_concluded and not contract.has_certificate
    assert contract.department == personas.sender.department
    assert contract.notice_deadline == dt.date(2025, 1, 31)
    document = contract.documents.get()
    first, stamped = document.versions.order_by("seq")
    assert (first.kind, stamped.kind) == (VersionKind.IMPORTED, VersionKind.IMPORT_STAMPED)
    assert first.blob == document.original and blob_get(first.blob) == original
    data = blob_get(stamped.blob)
    assert data.startswith(original) and len(data) > len(original)
    report = engine.verify(data, trust_roots=[get_authority().root_cert])
    assert report.ok and [s.kind for s in report.signatures] == [engine.DOCUMENT_TIMESTAMP]
    record = ArchiveTimestamp.objects.get(document=document)
    assert record.version == stamped and record.current
    assert record.reason == RenewalReason.IMPORTED
    events = Event.objects.filter(subject=contract.audit_subject)
    imported = events.get(event="contract.import")
    assert imported.actor == personas.sender
    assert imported.detail["files"][0]["sha256"] == document.original.sha256
    stamp = events.get(event="document.import_stamp")
    assert stamp.detail["original_sha256"] == document.original.sha256
    assert stamp.detail["sha256"] == stamped.blob.sha256
    # Found by a word only in the document's text, as any contract is (R28).
    client = Client()
    client.force_login(personas.sender)
    page = client.get("/", {"q": "清掃業務委託契約書"}).content.decode()
    assert "庁舎清掃業務委託契約" in page and 'data-testid="imported"' in page


def test_a_pdf_signed_in_another_service_keeps_its_signature(personas):
    signed = sign_incrementally(make_pdf(text="他社サービスで締結"))
    contract = _import(personas.sender, ("他社締結.pdf", signed))
    data = blob_get(contract.documents.get().current_version().blob)
    assert data.startswith(signed)
    report = engine.verify(data, trust_roots=[get_authority().root_cert])
    first, stamp = report.signatures
    assert first.kind == engine.SIGNATURE and first.intact and first.valid
    assert stamp.kind == engine.DOCUMENT_TIMESTAMP and stamp.intact and stamp.trusted


def test_a_bad_file_stores_nothing(personas):
    before = DocumentVersion.objects.count()
    with pytest.raises(ContractError) as refused:
        _import(personas.sender, ("ok.pdf", make_pdf()), ("bad.pdf", b"%PDF-1.7 nothing"))
    assert refused.value.message.startswith("bad.pdf: ") and refused.value.code == "corrupt"
    assert DocumentVersion.objects.count() == before


def test_only_senders_and_admins_import(personas):
    with pytest.raises(NotAllowed):
        _import(personas.viewer, ("a.pdf", make_pdf()))
    with pytest.raises(NotAllowed):
        _import(personas.mayor, ("a.pdf", make_pdf()))  # a signer, not a sender


def test_a_sender_imports_into_their_own_department_only(personas):
    with pytest.raises(ContractError) as refused:
        _import(personas.sender, ("a.pdf", make_pdf()), department=personas.other_dept)
    assert refused.value.code == "department"
    contract = _import(personas.admin, ("a.pdf", make_pdf()), department=personas.other_dept)
    assert contract.department == personas.other_dept


def test_outsiders_get_404_and_no_certificate_is_offered(personas):
    contract = _import(personas.sender, ("a.pdf", make_pdf()))
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.get(f"/contracts/{contract.pk}/").status_code == 404
    document = contract.documents.get()
    assert (
        outsider.get(f"/contracts/{contract.pk}/documents/{document.pk}/signed.pdf").status_code
        == 404
    )
    staff = Client()
    staff.force_login(personas.sender)
    page = staff.get(f"/contracts/{contract.pk}/").content.decode()
    assert 'data-testid="download-stamped"' in page and "download-certificate" not in page
    assert staff.get(f"/contracts/{contract.pk}/certificate.pdf").status_code == 404
    download = staff.get(f"/contracts/{contract.pk}/documents/{document.pk}/signed.pdf")
    assert download.status_code == 200
    assert download.content == blob_get(document.current_version().blob)


def test_while_no_tsa_answers_the_import_is_kept_and_stamped_later(
    personas, settings, keiyaku_tsa_url
):
    settings.KEIYAKU_TSA_URLS = [dead_url()]
    contract = _import(personas.sender, ("a.pdf", make_pdf()))
    document = contract.documents.get()
    assert [v.kind for v in document.versions.all()] == [VersionKind.IMPORTED]
    staff = Client()
    staff.force_login(personas.sender)
    assert 'data-testid="stamp-pending"' in staff.get(f"/contracts/{contract.pk}/").content.decode()

    settings.KEIYAKU_TSA_URLS = [dead_url(), keiyaku_tsa_url]  # the second TSA answers
    from keiyaku.signing.models import TsaStatus

    TsaStatus.objects.all().delete()  # the outage's record: the sweep would wait it out
    assert import_stamp_sweep(older_than=timedelta(0)) == 1
    kinds = [v.kind for v in document.versions.order_by("seq")]
    assert kinds == [VersionKind.IMPORTED, VersionKind.IMPORT_STAMPED]
    assert import_stamp_sweep(older_than=timedelta(0)) == 0


@pytest.mark.slow(seconds=6)
def test_an_imported_contract_joins_the_archival_renewal(personas, settings, short_tsa):
    settings.KEIYAKU_TSA_URLS = [short_tsa.url]
    now = timezone.now()
    short_tsa.issue(now)
    original = make_pdf()
    contract = _import(personas.sender, ("a.pdf", original))
    document = contract.documents.get()
    first = ArchiveTimestamp.objects.get(document=document, current=True)
    assert first.key_algorithm == "rsa2048"
    assert archive_renewal_run().renewed == 0

    since = (now - dt.timedelta(days=settings.KEIYAKU_RENEWAL_SPREAD_DAYS + 1)).date()
    settings.KEIYAKU_RENEWAL_POLICY = archive.parse_retirements(f"rsa2048 after {since}")
    short_tsa.issue(now, key_size=3072)
    assert archive_renewal_run().renewed == 1
    kinds = [v.kind for v in document.versions.order_by("seq")]
    assert kinds == [VersionKind.IMPORTED, VersionKind.IMPORT_STAMPED, VersionKind.RENEWED]
    renewed = ArchiveTimestamp.objects.get(document=document, current=True)
    assert renewed.renews == first and renewed.key_algorithm == "rsa3072"
    data = blob_get(document.current_version().blob)
    assert data.startswith(original)
    report = engine.verify(data, trust_roots=[get_authority().root_cert])
    assert report.ok and len(report.signatures) == 2, report.as_dict()
