"""R23/R24: completion notices, the download link for large files, the certificate of completion."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus, Link, PartyStatus
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, draft_contract, last_link, mail_links, mails_to

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")


def completed(personas, *, with_mayor: bool = True):
    contract = draft_contract(
        personas.sender, externals=[FIRM], staff_signers=[personas.mayor] if with_mayor else []
    )
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    if with_mayor:
        mayor = Client()
        mayor.force_login(personas.mayor)
        agree(mayor, last_link(personas.mayor.email))
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    return contract


def test_large_files_come_as_a_download_link_valid_two_weeks(personas, settings):
    settings.KEIYAKU_ATTACH_LIMIT_BYTES = 1  # every PDF counts as large
    contract = completed(personas)
    notice = mails_to(FIRM.email)[-1]
    assert notice.subject.startswith("電子署名完了のお知らせ")
    assert notice.attachments.count() == 0
    link = mail_links(FIRM.email)[-1]
    assert link.startswith("/d/")
    download = Link.objects.get(purpose="download", party__email=FIRM.email)
    assert download.expires_at - timezone.now() >= timedelta(days=14) - timedelta(minutes=1)

    client = Client()  # no login, no access code: the e-mailed link is the key
    page = client.get(link)
    assert page.status_code == 200
    document = contract.documents.get()
    response = client.get(f"{link}documents/{document.pk}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == blob_get(document.current_version().blob)

    Link.objects.filter(pk=download.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(link).status_code == 410


def test_certificate_of_completion_names_every_party(personas):
    contract = completed(personas)
    staff = Client()
    staff.force_login(personas.sender)
    response = staff.get(f"/contracts/{contract.pk}/certificate.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=response.content, capture_output=True, check=True
    ).stdout.decode()
    assert contract.certificate_id in text and contract.title in text
    assert contract.documents.get().current_version().blob.sha256 in text.replace("\n", "")
    for party in contract.parties.filter(status=PartyStatus.SIGNED):
        assert party.name in text and party.email in text
    assert "127.0.0.1" in text


def test_no_certificate_before_completion(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    staff = Client()
    staff.force_login(personas.sender)
    assert staff.get(f"/contracts/{contract.pk}/certificate.pdf").status_code == 404
