"""Acceptance 4 of issue 13 (R21): renewal with no end.

A contract completed in year 0 under a TSA whose certificates live two years is renewed by the
hourly job before each certificate expires (the clock moved with time-machine, a new TSA
certificate issued each year), and in year 25 it still passes PAdES-LTA validation with the
document's own data only (pyHanko, fetching off): not a simulation of the future, a validation
at that time.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from keiyaku.contracts import services
from keiyaku.contracts.models import ArchiveTimestamp, ContractStatus, RenewalReason
from keiyaku.contracts.tasks import renew_archives_batch
from keiyaku.pki.service import get_authority
from keiyaku.signing import engine
from keiyaku.storage.blobs import blob_get
from tests.contracts.renewal_setup import YEAR, assert_no_half_renewal
from tests.flow import External, agree, draft_contract, last_link

# What it examines is the PDF over 25 years of renewals; the database only records them.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.database_independent]

FIRM = External("株式会社百年建設", "永続 太郎", "eizoku@example.jp", "2525")


@pytest.mark.slow(seconds=20)
@pytest.mark.xfail(
    strict=True,
    reason=(
        "open: every renewal is made before its certificate expires, but pyHanko 0.38's "
        "AdES-LTA validation reports NO_POE once a document has two renewals (it looks for the "
        "first TSA certificate's proof of existence at the newest timestamp's time); one "
        "renewal validates. See docs/trust.md, Archival renewal."
    ),
)
def test_a_contract_completed_in_year_0_still_validates_in_year_25(personas, settings, short_tsa):
    settings.KEIYAKU_TSA_URLS = [short_tsa.url]
    start = timezone.now()
    short_tsa.issue(start)
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    document = contract.documents.get()

    for year in range(1, 26):
        # Ten days into each year: the TSA has a new certificate, the previous one ends within
        # the year (the default margin) and is still valid.
        with time_machine.travel(start + year * YEAR + dt.timedelta(days=10), tick=True):
            short_tsa.issue(timezone.now())
            renew_archives_batch()
    stamps = list(ArchiveTimestamp.objects.filter(document=document).order_by("gen_time"))
    assert len(stamps) == 26
    for before, after in zip(stamps, stamps[1:], strict=False):
        assert after.renews == before and after.reason == RenewalReason.TSA_EXPIRY
        assert after.gen_time < before.tsa_not_after  # renewed before each expiry
    assert_no_half_renewal()

    final = blob_get(document.current_version().blob)
    # Two days after the year-25 renewal: the newest timestamp's revocation data in the DSS
    # (a CRL valid seven days) is still fresh, so the document's own data is all it takes.
    year_25 = start + 25 * YEAR + dt.timedelta(days=12)
    with time_machine.travel(year_25, tick=True):
        report = engine.verify(final, trust_roots=[get_authority().root_cert], at=timezone.now())
    assert not report.simulated
    assert report.ok and report.ltv_ok, [(s.field_name, s.ltv_detail) for s in report.signatures]
    assert [s.ltv_detail for s in report.signatures if s.kind == engine.SIGNATURE] == ["OK"]
    assert sum(s.kind == engine.DOCUMENT_TIMESTAMP for s in report.signatures) == 26
