"""Completed contracts for the archival renewal tests (R21), and the short-lived TSA they need.

`completed_in_bulk` writes many completed contracts with set-based inserts, in the shape the
services leave them for renewal: a key ring, a sealed final PDF (a write-once blob), a document
whose newest version is the completed one, and its ArchiveTimestamp row. Every contract holds
the same small final PDF, sealed with its own data key. The renewal itself then runs through
the real job code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from keiyaku.contracts.models import (
    ArchiveTimestamp,
    Contract,
    ContractStatus,
    Document,
    DocumentVersion,
    RenewalReason,
    VersionKind,
)
from keiyaku.contracts.services.archive_timestamps import archive_timestamp_record
from keiyaku.pki import revocation
from keiyaku.pki.service import get_authority
from keiyaku.signing import archive, engine
from keiyaku.storage import crypto
from keiyaku.storage.blobs import object_storage
from keiyaku.storage.models import Blob, KeyRing
from tests.pdfs import make_pdf
from tests.servers.short_lived_tsa import ShortLivedTsa

YEAR = dt.timedelta(days=365)


@pytest.fixture
def short_tsa(db: object) -> Iterator[ShortLivedTsa]:
    """A TSA on loopback whose certificates live two years, issued by keiyaku's root."""
    server = ShortLivedTsa(get_authority(), base_url=settings.PUBLIC_URL)
    yield server
    server.close()


def final_pdf(tsa: ShortLivedTsa) -> bytes:
    """A one-page PDF signed by keiyaku's signer and finalised (B-LTA) with ``tsa``'s current
    certificate, as `contract_finalize` leaves it."""
    from keiyaku.signing.keys import get_service_signer

    assert tsa.authority is not None
    stamper = engine.make_timestamper([tsa.url])
    field = "keiyaku-party-01"
    pdf = engine.prepare(make_pdf(), field_names=[field])
    pdf = engine.sign_agreement(
        pdf, field_name=field, reason="テスト", signer=get_service_signer(), timestamper=stamper
    )
    return engine.finalize(
        pdf, timestamper=stamper, validation_context=revocation.validation_inputs(tsa.authority)
    )


def completed_in_bulk(personas, *, count: int, pdf: bytes) -> list[uuid.UUID]:
    """``count`` completed contracts of ``personas.org`` holding ``pdf`` as their final version;
    their ids. A handful of bulk inserts, whatever ``count``."""
    info = archive.newest_document_timestamp(pdf)
    assert info is not None
    now = timezone.now()
    rings, blobs = [], []
    storage = object_storage()
    for _ in range(count):
        ring = KeyRing(id=uuid.uuid4())
        data_key = crypto.new_data_key()
        ring.wrapped_key = crypto.wrap_key(data_key, key_id=str(ring.id))
        blob = Blob(
            id=uuid.uuid4(),
            keyring=ring,
            sha256=hashlib.sha256(pdf).hexdigest(),
            size=len(pdf),
        )
        storage.save(
            blob.object_name,
            ContentFile(crypto.seal_with(data_key, pdf, aad=str(blob.id).encode())),
        )
        rings.append(ring)
        blobs.append(blob)
    salt = uuid.uuid4().hex[:8]
    with transaction.atomic():
        KeyRing.objects.bulk_create(rings)
        Blob.objects.bulk_create(blobs)
        contracts = Contract.objects.bulk_create(
            Contract(
                organisation=personas.org,
                created_by=personas.sender,
                department=personas.sender.department,
                keyring=ring,
                title=f"令和8年度 保守委託契約 第{n}号",
                status=ContractStatus.COMPLETED,
                certificate_id=f"R{salt}{n:07d}",
                sent_at=now,
                completed_at=now,
                last_activity_at=now,
            )
            for n, ring in enumerate(rings, start=1)
        )
        documents = Document.objects.bulk_create(
            Document(contract=c, position=1, filename="契約書.pdf", original=b, page_count=1)
            for c, b in zip(contracts, blobs, strict=True)
        )
        versions = DocumentVersion.objects.bulk_create(
            DocumentVersion(document=d, seq=1, kind=VersionKind.COMPLETED, blob=b)
            for d, b in zip(documents, blobs, strict=True)
        )
        for version in versions:
            archive_timestamp_record(
                version=version, info=info, reason=RenewalReason.COMPLETED, now=now
            )
    return [c.pk for c in contracts]


def renewal_count(contract_ids: list[uuid.UUID] | None = None) -> int:
    """Renewals recorded (ArchiveTimestamp rows that renew another), of these contracts."""
    rows = ArchiveTimestamp.objects.filter(renews__isnull=False)
    if contract_ids is not None:
        rows = rows.filter(document__contract_id__in=contract_ids)
    return rows.count()


def assert_no_half_renewal() -> None:
    """Every renewed version has its ArchiveTimestamp row and the other way round; every
    document has exactly one current row, on its newest version."""
    renewed_versions = set(
        DocumentVersion.objects.filter(kind=VersionKind.RENEWED).values_list("pk", flat=True)
    )
    renewal_rows = set(
        ArchiveTimestamp.objects.filter(renews__isnull=False).values_list("version_id", flat=True)
    )
    assert renewed_versions == renewal_rows
    for document_id, newest in _newest_versions().items():
        current = ArchiveTimestamp.objects.filter(document_id=document_id, current=True)
        assert list(current.values_list("version_id", flat=True)) == [newest]


def _newest_versions() -> dict[int, int]:
    newest: dict[int, tuple[int, int]] = {}
    for pk, document_id, seq in DocumentVersion.objects.filter(
        archive_timestamp__isnull=False
    ).values_list("pk", "document_id", "seq"):
        if document_id not in newest or seq > newest[document_id][1]:
            newest[document_id] = (pk, seq)
    return {document_id: pk for document_id, (pk, _) in newest.items()}
