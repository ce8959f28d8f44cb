"""Picking a contact on a draft contract adds it as an external party (R12 → R6/R7)."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client

from keiyaku.addressbook import services
from keiyaku.contracts import services as contract_services
from tests.flow import External, draft_contract


@pytest.fixture
def contact(personas):
    company = services.company_create(actor=personas.sender, name="株式会社髙橋建設")
    return services.contact_create(
        company=company, actor=personas.sender, name="髙橋 一郎", email="takahashi@example.jp"
    )


def client_for(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_detail_page_of_a_draft_offers_the_address_book(personas, contact):
    contract = draft_contract(personas.sender)
    page = client_for(personas.sender).get(f"/contracts/{contract.pk}/").content.decode()
    assert "アドレス帳から追加" in page
    assert "株式会社髙橋建設 髙橋 一郎 &lt;takahashi@example.jp&gt;" in page


def test_picking_a_contact_adds_an_external_party_with_the_access_code(personas, contact):
    contract = draft_contract(personas.sender)
    response = client_for(personas.sender).post(
        f"/addressbook/contracts/{contract.pk}/parties/",
        {"contact": contact.pk, "access_code": "4321"},
        follow=True,
    )
    assert response.status_code == 200
    assert "髙橋 一郎 様を署名者に追加しました" in response.content.decode()
    (party,) = contract.parties.all()
    assert (party.kind, party.company, party.name, party.email) == (
        "external",
        "株式会社髙橋建設",
        "髙橋 一郎",
        "takahashi@example.jp",
    )
    assert check_password("4321", party.access_code)


def test_a_picked_contact_can_sign_in_parallel_with_the_previous_party(personas, contact):
    contract = draft_contract(
        personas.sender, externals=[External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp")]
    )
    client_for(personas.sender).post(
        f"/addressbook/contracts/{contract.pk}/parties/",
        {"contact": contact.pk, "access_code": "4321", "parallel": "on"},
    )
    first, picked = contract.parties.order_by("position")
    assert picked.parallel and picked.step == first.step


def test_service_refusal_is_shown_not_a_500(personas, contact):
    contract = draft_contract(personas.sender)
    client = client_for(personas.sender)
    response = client.post(
        f"/addressbook/contracts/{contract.pk}/parties/",
        {"contact": contact.pk, "access_code": "12"},
        follow=True,
    )
    assert response.status_code == 200
    assert "アクセスコードは半角英数字4〜32文字で入力してください" in response.content.decode()
    assert not contract.parties.exists()


def test_a_sent_contract_takes_no_more_parties(personas, contact):
    contract = draft_contract(
        personas.sender, externals=[External("株式会社A", "甲 太郎", "a@example.jp")]
    )
    contract_services.contract_send(contract=contract, actor=personas.sender)
    response = client_for(personas.sender).post(
        f"/addressbook/contracts/{contract.pk}/parties/",
        {"contact": contact.pk, "access_code": "4321"},
        follow=True,
    )
    assert response.status_code == 200
    assert contract.parties.count() == 1


def test_contact_must_be_visible_to_the_sender(personas, contact, roads_sender):
    private = services.company_create(
        actor=roads_sender, name="土木課の業者", department=personas.other_dept
    )
    hidden = services.contact_create(
        company=private, actor=roads_sender, name="丙", email="h@example.jp"
    )
    contract = draft_contract(personas.sender)
    response = client_for(personas.sender).post(
        f"/addressbook/contracts/{contract.pk}/parties/",
        {"contact": hidden.pk, "access_code": "4321"},
        follow=True,
    )
    assert response.status_code == 200
    assert not contract.parties.exists()


def test_outsider_gets_404(personas, contact):
    contract = draft_contract(personas.sender)
    response = client_for(personas.outsider).post(
        f"/addressbook/contracts/{contract.pk}/parties/",
        {"contact": contact.pk, "access_code": "4321"},
    )
    assert response.status_code == 404
    assert not contract.parties.exists()


def test_a_viewer_gets_no_picker_and_is_refused(personas, contact):
    contract = draft_contract(personas.sender)
    client = client_for(personas.viewer)
    page = client.get(f"/contracts/{contract.pk}/")
    assert page.status_code == 200 and "アドレス帳から追加" not in page.content.decode()
    response = client.post(
        f"/addressbook/contracts/{contract.pk}/parties/",
        {"contact": contact.pk, "access_code": "4321"},
    )
    assert response.status_code == 403
    assert not contract.parties.exists()
