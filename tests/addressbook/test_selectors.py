"""Who sees what: organisation scope, department-private entries, administrators, outsiders."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.test import Client

from keiyaku.accounts.services import staff_create
from keiyaku.addressbook import services
from keiyaku.addressbook.selectors import (
    companies_search,
    companies_visible_to,
    company_for,
    contact_for,
    contacts_visible_to,
)


@pytest.fixture
def book(personas, roads_sender):
    shared = services.company_create(actor=personas.sender, name="株式会社共有", kana="キョウユウ")
    contracts_only = services.company_create(
        actor=personas.sender, name="契約課の業者", department=personas.contracts_dept
    )
    roads_only = services.company_create(
        actor=roads_sender, name="土木課の業者", department=personas.other_dept
    )
    services.contact_create(
        company=shared, actor=personas.sender, name="担当 一郎", email="a@shared.jp"
    )
    services.contact_create(
        company=roads_only, actor=roads_sender, name="担当 二郎", email="b@roads.jp"
    )
    return shared, contracts_only, roads_only


def names(queryset) -> set[str]:
    return {company.name for company in queryset}


def test_staff_see_shared_entries_and_their_own_departments(personas, book):
    assert names(companies_visible_to(personas.sender)) == {"株式会社共有", "契約課の業者"}
    assert names(companies_visible_to(personas.mayor)) == {"株式会社共有", "土木課の業者"}
    assert {c.email for c in contacts_visible_to(personas.sender)} == {"a@shared.jp"}


def test_administrators_see_every_entry_of_their_organisation(personas, book):
    assert "admin" in personas.admin.roles
    assert names(companies_visible_to(personas.admin)) == {
        "株式会社共有",
        "契約課の業者",
        "土木課の業者",
    }


def test_staff_without_department_see_shared_entries_only(personas, book):
    loner = staff_create(
        organisation=personas.org,
        username="loner",
        password=personas.password,
        display_name="無所属",
        email="loner@city.example.jp",
    )
    assert names(companies_visible_to(loner)) == {"株式会社共有"}


def test_outsiders_see_nothing_and_get_404(personas, book):
    shared, _, roads_only = book
    assert not companies_visible_to(personas.outsider).exists()
    with pytest.raises(Http404):
        company_for(personas.outsider, shared.pk)
    with pytest.raises(Http404):
        company_for(personas.sender, roads_only.pk)
    with pytest.raises(Http404):
        contact_for(personas.sender, roads_only.contacts.get().pk)

    outsider = Client()
    outsider.force_login(personas.outsider)
    contact = shared.contacts.get()
    for url in (
        f"/addressbook/companies/{shared.pk}/",
        f"/addressbook/companies/{shared.pk}/edit/",
        f"/addressbook/companies/{shared.pk}/contacts/new/",
        f"/addressbook/contacts/{contact.pk}/edit/",
    ):
        assert outsider.get(url).status_code == 404, url
    for url in (
        f"/addressbook/companies/{shared.pk}/delete/",
        f"/addressbook/contacts/{contact.pk}/delete/",
        f"/addressbook/companies/{shared.pk}/edit/",
    ):
        assert outsider.post(url, {"name": "x"}).status_code == 404, url
    assert "株式会社共有" not in outsider.get("/addressbook/").content.decode()
    assert shared.contacts.exists()

    insider = Client()
    insider.force_login(personas.sender)
    assert insider.get(f"/addressbook/companies/{roads_only.pk}/").status_code == 404
    page = insider.get("/addressbook/").content.decode()
    assert "株式会社共有" in page and "土木課の業者" not in page


def test_anonymous_visitors_are_sent_to_login(db):
    response = Client().get("/addressbook/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_search_matches_company_kana_and_contacts(personas, book):
    assert names(companies_search(personas.sender, "キョウ")) == {"株式会社共有"}
    assert names(companies_search(personas.sender, "a@shared")) == {"株式会社共有"}
    assert names(companies_search(personas.sender, "担当 共有")) == {"株式会社共有"}
    assert names(companies_search(personas.sender, "土木課")) == set()
    page = _client(personas.sender).get("/addressbook/", {"q": "契約課"}).content.decode()
    assert "契約課の業者" in page and "株式会社共有" not in page


def _client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client
