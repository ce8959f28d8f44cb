"""Acceptance 4 of issue 13 (R21): renewal with no end.

A contract completed in year 0 under a TSA whose certificates live two years is renewed by the
hourly job before each certificate expires (the clock moved with time-machine, a new TSA
certificate issued each year), and in year 25 `keiyaku verify` still finds it concluded and
PAdES-LTA valid with local data only (pyHanko, fetching off: the document's DSS, and keiyaku's
authority's current CRL for the newest timestamp): not a simulation of the future, a
validation at that time (the command's clock moved with libfaketime).

By then every TSA certificate but the newest timestamp's has expired, so each older timestamp
is trusted through the next one's proof of existence (ETSI EN 319 102-1 §5.6.2.1), which
needs keiyaku.signing.pyhanko_time_slide.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from keiyaku.contracts import services
from keiyaku.contracts.models import ArchiveTimestamp, ContractStatus, RenewalReason
from keiyaku.contracts.tasks import renew_archives_batch
from keiyaku.storage.blobs import blob_get
from tests.contracts.renewal_setup import YEAR, assert_no_half_renewal
from tests.flow import External, agree, draft_contract, keiyaku_verify_at, last_link

# What it examines is the PDF over 25 years of renewals; the database only records them.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.database_independent]

FIRM = External("株式会社百年建設", "永続 太郎", "eizoku@example.jp", "2525")


@pytest.mark.slow(seconds=25)
def test_a_contract_completed_in_year_0_still_validates_in_year_25(
    personas, settings, short_tsa, tmp_path
):
    settings.KEIYAKU_TSA_URLS = [short_tsa.url]
    start = timezone.now()
    short_tsa.issue(start)
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    document = contract.documents.get()

    for year in range(1, 25):
        # Ten days into each year: the TSA has a new certificate, the previous one ends within
        # the year (the default margin) and is still valid.
        with time_machine.travel(start + year * YEAR + dt.timedelta(days=10), tick=True):
            short_tsa.issue(timezone.now())
            renew_archives_batch()
    stamps = list(ArchiveTimestamp.objects.filter(document=document).order_by("gen_time"))
    assert len(stamps) == 25
    for before, after in zip(stamps, stamps[1:], strict=False):
        assert after.renews == before and after.reason == RenewalReason.TSA_EXPIRY
        assert after.gen_time < before.tsa_not_after  # renewed before each expiry
    assert_no_half_renewal()

    # Year 25, twelve days in: the certificate of every timestamp but the newest has expired
    # (the last of them ten days in), the newest's (year 24) is valid for another year.
    year_25 = start + 25 * YEAR + dt.timedelta(days=12)
    assert all(stamp.tsa_not_after < year_25 for stamp in stamps[:-1])
    assert stamps[-1].tsa_not_after > year_25
    path = tmp_path / "year-25.pdf"
    path.write_bytes(blob_get(document.current_version().blob))
    verified = keiyaku_verify_at(year_25, path, "--json")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
    report = json.loads(verified.stdout)
    assert not report["simulated"]
    assert dt.datetime.fromisoformat(report["validated_at"]) - year_25 < dt.timedelta(minutes=5)
    assert report["verdict"] == "concluded" and report["ltv_ok"]
    signatures = [s for s in report["signatures"] if s["kind"] == "signature"]
    timestamps = [s for s in report["signatures"] if s["kind"] == "document_timestamp"]
    assert [s["ltv_detail"] for s in signatures] == ["OK"]
    assert len(timestamps) == 25 and all(s["trusted"] for s in timestamps)
