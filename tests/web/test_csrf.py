"""CSRF: a form posted from another site (no token) is refused, staff and counterparty alike."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.addressbook.models import Company
from keiyaku.contracts import services
from keiyaku.contracts.models import PartyStatus
from tests.flow import External, draft_contract, enter_code, last_link

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")


def test_a_staff_form_without_the_token_is_refused(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.sender)
    form = {"name": "株式会社A", "visibility": "shared"}

    assert client.post("/addressbook/companies/new/", form).status_code == 403
    assert not Company.objects.exists()

    client.get("/addressbook/companies/new/")  # the page sets the cookie the form echoes
    token = client.cookies["csrftoken"].value
    response = client.post("/addressbook/companies/new/", {**form, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and Company.objects.count() == 1


def test_a_counterpartys_forward_without_the_token_is_refused(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    client = Client(enforce_csrf_checks=True)
    link = last_link(FIRM.email)
    client.get(link)
    assert enter_code(client, link, FIRM.code).status_code == 403

    response = client.post(link + "forward/", {"name": "攻撃 者", "email": "attacker@example.jp"})
    assert response.status_code == 403
    assert contract.parties.get().status == PartyStatus.NOTIFIED
