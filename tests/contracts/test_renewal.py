"""Archival renewal (R21): what is due, in what order, and what a renewal leaves behind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.models import (
    ArchiveTimestamp,
    CompletionCertificate,
    ContractStatus,
    DocumentVersion,
    RenewalReason,
    VersionKind,
)
from keiyaku.contracts.services.renewal import archive_renewal_run, renewals_due
from keiyaku.contracts.tasks import renew_archives_batch
from keiyaku.pki.service import get_authority
from keiyaku.signing import archive, engine
from keiyaku.signing.verification import judge_pdf
from keiyaku.storage.blobs import blob_get
from tests.contracts.renewal_setup import (
    YEAR,
    assert_no_half_renewal,
    completed_in_bulk,
    final_pdf,
    renewal_count,
)
from tests.flow import External, agree, draft_contract, last_link
from tests.pdfs import pdftotext

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社長期保存", "保存 一郎", "hozon@example.jp", "5555")


def _completed(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    return contract


@pytest.mark.slow(seconds=6)
def test_a_retired_key_algorithm_renews_early_and_the_renewal_is_listed(
    personas, settings, short_tsa
):
    settings.KEIYAKU_TSA_URLS = [short_tsa.url]
    now = timezone.now()
    short_tsa.issue(now)
    contract = _completed(personas)
    document = contract.documents.get()
    first = ArchiveTimestamp.objects.get(document=document)
    assert (first.reason, first.current, first.key_algorithm) == ("completed", True, "rsa2048")
    assert first.version == document.current_version()
    assert first.tsa_not_after > now + YEAR  # two years: nothing is due yet
    assert archive_renewal_run().renewed == 0

    # The policy retires RSA-2048 from a date past every jitter (at most the spread).
    since = (now - dt.timedelta(days=settings.KEIYAKU_RENEWAL_SPREAD_DAYS + 1)).date()
    settings.KEIYAKU_RENEWAL_POLICY = archive.parse_retirements(f"rsa2048 after {since}")
    # The TSA still signs with RSA-2048: renewing would only make a timestamp due again.
    stopped = archive_renewal_run()
    assert stopped.renewed == 0 and "rsa2048" in stopped.stopped, stopped
    assert not DocumentVersion.objects.filter(document=document, kind=VersionKind.RENEWED)
    assert ArchiveTimestamp.objects.get(document=document, current=True) == first

    short_tsa.issue(now, key_size=3072)
    renew_archives_batch()  # the job, inline in tests
    versions = list(document.versions.order_by("seq"))
    assert [v.kind for v in versions][-2:] == [VersionKind.COMPLETED, VersionKind.RENEWED]
    renewed = ArchiveTimestamp.objects.get(document=document, current=True)
    assert renewed.renews == first and renewed.reason == RenewalReason.ALGORITHM
    assert renewed.reason_detail == f"rsa2048 after {since}"
    assert renewed.key_algorithm == "rsa3072"
    old, new = blob_get(versions[-2].blob), blob_get(versions[-1].blob)
    assert new.startswith(old)  # a new revision; the old version is kept as it was
    report = engine.verify(new, trust_roots=[get_authority().root_cert])
    assert report.ok and report.ltv_ok, report.as_dict()
    assert archive_renewal_run().renewed == 0  # not twice for the same reason
    assert Event.objects.filter(subject=contract.audit_subject, event="contract.renew").count() == 1

    staff = Client()
    staff.force_login(personas.sender)
    page = staff.get(f"/contracts/{contract.pk}/").content.decode()
    assert "暗号アルゴリズムの移行" in page and renewed.tsa_name in page
    assert "タイムスタンプの更新（長期署名の延長）" in page  # the history
    # Issue 14: the renewal outdated the certificate; the next download has the next one
    # issued (a job: immediate here), the one after serves it.
    asked = staff.get(f"/contracts/{contract.pk}/certificate.pdf")
    assert asked.status_code == 302
    certificate = pdftotext(staff.get(f"/contracts/{contract.pk}/certificate.pdf").content)
    assert "タイムスタンプの更新" in certificate
    assert "暗号アルゴリズムの移行" in certificate and "Short-lived TSA" in certificate
    # Issue 14: the certificate is re-issued, signed, for the renewed version's hash.
    issued = list(CompletionCertificate.objects.filter(contract=contract).order_by("id"))
    assert [c.current for c in issued] == [False, True]
    assert versions[-1].blob.sha256 in certificate
    assert versions[-2].blob.sha256 not in certificate
    assert judge_pdf(blob_get(issued[-1].blob)).is_certificate
    assert_no_half_renewal()


def test_a_run_renews_at_most_its_batch_most_urgent_first(personas, settings, short_tsa):
    now = timezone.now()
    short_tsa.issue(now - YEAR * 1.5)  # ends in half a year: within the margin
    ids = completed_in_bulk(personas, count=5, pdf=final_pdf(short_tsa))
    rows = list(ArchiveTimestamp.objects.filter(document__contract_id__in=ids).order_by("pk"))
    # Five certificates ending on different days (as if stamped by different TSAs).
    ends = [200, 50, 300, 100, 150]
    for row, days in zip(rows, ends, strict=True):
        ArchiveTimestamp.objects.filter(pk=row.pk).update(
            tsa_not_after=now + dt.timedelta(days=days),
            expiry_due_at=now + dt.timedelta(days=days),
        )
    due = renewals_due(limit=3)
    assert [d.record_id for d in due] == [rows[1].pk, rows[3].pk, rows[4].pk]
    assert {d.reason for d in due} == {RenewalReason.TSA_EXPIRY}

    settings.KEIYAKU_RENEWAL_BATCH = 3
    assert archive_renewal_run().renewed == 3
    assert renewal_count(ids) == 3
    left = [d.record_id for d in renewals_due()]
    assert left == [rows[0].pk, rows[2].pk]
    assert_no_half_renewal()


def test_one_certificates_documents_come_due_spread_over_the_spread(personas, settings, short_tsa):
    now = timezone.now()
    short_tsa.issue(now)  # two years
    ids = completed_in_bulk(personas, count=60, pdf=final_pdf(short_tsa))
    rows = ArchiveTimestamp.objects.filter(document__contract_id__in=ids)
    spread = dt.timedelta(days=settings.KEIYAKU_RENEWAL_SPREAD_DAYS)
    jitters = [row.jitter_seconds for row in rows]
    assert all(0 <= j <= spread.total_seconds() for j in jitters)
    assert len(set(jitters)) > 50
    not_after = rows[0].tsa_not_after
    turn = not_after - dt.timedelta(days=settings.KEIYAKU_RENEWAL_MARGIN_DAYS)
    assert renewals_due(now=turn - spread - dt.timedelta(hours=1), limit=100) == []
    halfway = len(renewals_due(now=turn - spread / 2, limit=100))
    assert 10 < halfway < 50  # about half, not all at once
    assert len(renewals_due(now=turn, limit=100)) == 60


def test_final_versions_stored_before_renewal_existed_are_recorded_then_renewed(
    personas, short_tsa
):
    short_tsa.issue(timezone.now() - YEAR * 1.5)
    ids = completed_in_bulk(personas, count=2, pdf=final_pdf(short_tsa))
    ArchiveTimestamp.objects.filter(document__contract_id__in=ids).delete()
    summary = archive_renewal_run()
    assert (summary.recorded, summary.renewed) == (2, 2)
    assert renewal_count(ids) == 2
    assert_no_half_renewal()
