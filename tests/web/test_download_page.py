"""R23: the completion mail's download page. The signed PDFs and the certificate of completion,
the verification page, the link's expiry in JST; KEIYAKU_DOWNLOAD_LINK_DAYS long, then a page
that says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Event
from keiyaku.contracts.models import Link
from keiyaku.contracts.services.certificates import certificate_outdate
from keiyaku.contracts.timefmt import JST
from keiyaku.storage.blobs import blob_get
from tests.counterparty_accounts.flow import FIRM, signed
from tests.flow import mail_links

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def completed(personas, settings):
    settings.KEIYAKU_ATTACH_LIMIT_BYTES = 0  # the completion mail carries the download link
    contract = signed(personas.sender, FIRM, title="令和8年度 道路補修工事 請負契約")
    link = mail_links(FIRM.email)[-1]
    assert link.startswith("/d/")
    return contract, link


def test_the_page_has_the_signed_pdfs_the_certificate_the_verification_page_and_its_expiry(
    completed, settings
):
    contract, link = completed
    client = Client()  # the link alone: no access code asked again (docs/security.md)
    page = client.get(link).content.decode()
    document = contract.documents.get()
    final = document.current_version()
    assert f"{link}documents/{document.pk}.pdf" in page
    assert f"{link}certificate.pdf" in page and contract.certificate_id in page
    assert f"{settings.PUBLIC_URL}/verify/" in page
    expires = Link.objects.get(purpose="download").expires_at
    assert "このページの有効期限:" in page and f"{expires.astimezone(JST):%Y年%-m月%-d日}" in page
    # The hash only behind the details toggle.
    details = page.split('<details class="hashes" id="hashes">')[1].split("</details>")[0]
    assert final.blob.sha256 in details and page.count(final.blob.sha256) == 1
    assert "無料アカウントで締結済み契約をいつでも確認" in page and FIRM.email in page

    response = client.get(f"{link}documents/{document.pk}.pdf")
    assert response.status_code == 200 and response.content == blob_get(final.blob)
    certificate = client.get(f"{link}certificate.pdf")
    assert certificate.status_code == 200 and certificate.content.startswith(b"%PDF")
    # Both in the organisation's log, as the party's (R39).
    events = Event.objects.filter(organisation=contract.organisation, detail__via="download_link")
    assert {e.event for e in events} == {"document.download", "certificate.download"}
    assert all(FIRM.email in e.actor_label for e in events)
    # Another contract's document through this link: 404.
    assert client.get(f"{link}documents/{document.pk + 1000}.pdf").status_code == 404


def test_the_page_works_13_days_later_and_is_gone_after_the_setting(completed, settings):
    contract, link = completed
    document = contract.documents.get()
    with time_machine.travel(timezone.now() + timedelta(days=13)):
        assert Client().get(link).status_code == 200
        assert Client().get(f"{link}documents/{document.pk}.pdf").status_code == 200
    days = settings.KEIYAKU_DOWNLOAD_LINK_DAYS
    with time_machine.travel(timezone.now() + timedelta(days=days, minutes=1)):
        for path in (link, f"{link}documents/{document.pk}.pdf", f"{link}certificate.pdf"):
            gone = Client().get(path)
            assert gone.status_code == 410
            text = gone.content.decode()
            assert "ダウンロードの有効期限が切れています" in text
            assert "ダウンロードの有効期限:" in text and "お問い合わせ先" in text
            assert "署名期限" not in text  # a download link's own words, not a signing link's


def test_an_outdated_certificate_is_being_prepared_and_the_next_visit_has_it(completed):
    contract, link = completed
    certificate_outdate(contract_id=contract.pk)
    client = Client()
    page = client.get(link).content.decode()
    # This visit queued it (the worker runs it; here at once): this page says it is coming.
    assert 'id="certificate-preparing"' in page and f"{link}certificate.pdf" not in page
    page = client.get(link).content.decode()
    assert f"{link}certificate.pdf" in page
    assert client.get(f"{link}certificate.pdf").status_code == 200


def test_an_unknown_link_is_404():
    assert Client().get("/d/not-a-token/").status_code == 404
