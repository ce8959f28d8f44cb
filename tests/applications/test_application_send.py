"""R14: the sender sends the 電子契約利用申出書 link from a draft."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.applications.models import Application, ApplicationStatus
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from tests.applications.helpers import application_link, send
from tests.flow import External, draft_contract, mails_to

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_mails_an_unguessable_link_stored_only_as_its_hash(personas):
    contract = draft_contract(personas.sender)
    application = send(contract, personas.sender)

    assert application.status == ApplicationStatus.SENT
    (mail,) = mails_to("office@takahashi.example.jp")
    assert "電子契約利用申出書" in mail.subject and "テスト市" in mail.subject
    assert contract.title in mail.body
    link = application_link("office@takahashi.example.jp")
    token = link.strip("/").split("/")[-1]
    assert len(token) >= 32  # 192 bits, URL-safe base64
    assert token not in application.token_hash
    assert Application.objects.filter(token_hash__contains=token).count() == 0
    expected = timezone.now() + timedelta(days=14)
    assert abs(application.expires_at - expected) < timedelta(minutes=1)
    assert Event.objects.filter(event="application.send", subject=f"contract:{contract.pk}")


def test_link_lifetime_is_a_setting(personas, settings):
    settings.KEIYAKU_APPLICATION_LINK_DAYS = 3
    application = send(draft_contract(personas.sender), personas.sender)
    assert application.expires_at - timezone.now() < timedelta(days=3, minutes=1)


def test_only_a_draft_can_send_an_application(personas):
    contract = draft_contract(personas.sender, externals=[External("株式会社A", "甲", "a@x.jp")])
    services.contract_send(contract=contract, actor=personas.sender)
    with pytest.raises(ContractError):
        send(contract, personas.sender)
    assert not Application.objects.exists()


def test_a_bad_address_is_refused(personas):
    with pytest.raises(ContractError):
        send(draft_contract(personas.sender), personas.sender, email="not-an-address")


def test_sender_sends_from_the_detail_page_and_sees_the_list(personas):
    contract = draft_contract(personas.sender)
    staff = Client()
    staff.force_login(personas.sender)
    page = staff.get(f"/contracts/{contract.pk}/").content.decode()
    assert "利用申出書を送る" in page

    response = staff.post(
        f"/contracts/{contract.pk}/applications/",
        {"company": "株式会社髙橋建設", "email": "office@takahashi.example.jp"},
        follow=True,
    )
    page = response.content.decode()
    assert "利用申出書のリンクを送りました" in page
    assert "office@takahashi.example.jp" in page and "回答待ち" in page
    assert mails_to("office@takahashi.example.jp")


def test_outsider_gets_404_and_sends_nothing(personas):
    contract = draft_contract(personas.sender)
    outsider = Client()
    outsider.force_login(personas.outsider)
    response = outsider.post(
        f"/contracts/{contract.pk}/applications/",
        {"company": "株式会社髙橋建設", "email": "office@takahashi.example.jp"},
    )
    assert response.status_code == 404
    assert not Application.objects.exists()
    assert not mails_to("office@takahashi.example.jp")
    anonymous = Client().post(f"/contracts/{contract.pk}/applications/", {})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
