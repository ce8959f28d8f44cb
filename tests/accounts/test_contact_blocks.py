"""Issue 14, 「問い合わせ先」: each organisation and department sets a contact block on its admin
screen (validated, audited); counterparties see the contract's department's, else the
organisation's, else the department and its sender."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.accounts.contacts import Contact, contact_for
from keiyaku.accounts.services import AccountsError, contact_update
from keiyaku.audit.models import Event
from keiyaku.refusals import NotAllowed
from tests.flow import draft_contract

CITY = {
    "contact_department": "総務部 契約課 契約係",
    "contact_person": "契約 花子",
    "contact_phone": "03-1234-5678",
    "contact_email": "keiyaku@city.example.jp",
    "contact_hours": "平日 8:45〜17:30",
}


@pytest.fixture
def admin(personas) -> Client:
    client = Client()
    client.force_login(personas.admin)
    return client


def test_the_admin_sets_the_organisations_and_a_departments_block_on_screens(personas, admin):
    assert admin.get("/admin-org/settings/").status_code == 200
    assert admin.post("/admin-org/settings/contact/", CITY).status_code == 302
    personas.org.refresh_from_db()
    assert personas.org.contact_phone == "03-1234-5678"
    dept = personas.contracts_dept
    page = admin.get(f"/admin-org/departments/{dept.pk}/").content.decode()
    assert f"/admin-org/departments/{dept.pk}/contact/" in page
    own = CITY | {"contact_department": "契約課", "contact_phone": "0120-00-1234"}
    assert admin.post(f"/admin-org/departments/{dept.pk}/contact/", own).status_code == 302
    events = Event.objects.filter(event__in=["organisation.contact", "department.contact"])
    assert [e.event for e in events.order_by("id")] == [
        "organisation.contact",
        "department.contact",
    ]
    last = events.order_by("id").last()
    assert last is not None and last.detail["after"]["phone"] == "0120-00-1234"
    assert last.detail["before"]["phone"] == "" and last.actor == personas.admin

    # The contract's department's block; a department without one falls back to the city's.
    dept.refresh_from_db()
    contract = draft_contract(personas.sender)  # the sender is in 契約課
    assert contact_for(contract).phone == "0120-00-1234"
    contract.department = personas.other_dept
    assert contact_for(contract) == Contact(
        department="総務部 契約課 契約係",
        person="契約 花子",
        phone="03-1234-5678",
        email="keiyaku@city.example.jp",
        hours="平日 8:45〜17:30",
    )


def test_without_any_block_the_department_and_sender_are_named(personas):
    contract = draft_contract(personas.sender)
    assert contact_for(contract) == Contact(
        department="契約課", person="契約 花子", email="sender@city.example.jp"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("contact_phone", "03(1234)5678"),
        ("contact_phone", "０３-１２３４"),
        ("contact_phone", "03--1234"),
        ("contact_phone", "1" * 31),
        ("contact_email", "not an address"),
        ("contact_person", "契約\n花子"),
        ("contact_hours", "平日\t9時"),
    ],
)
def test_a_block_is_one_line_a_phone_of_digits_and_hyphens_and_an_address(
    personas, admin, field, value
):
    response = admin.post("/admin-org/settings/contact/", CITY | {field: value})
    assert response.status_code == 400
    with pytest.raises(AccountsError) as refused:
        contact_update(
            owner=personas.org,
            actor=personas.admin,
            **{key.removeprefix("contact_"): v for key, v in (CITY | {field: value}).items()},
        )
    assert refused.value.field == field
    personas.org.refresh_from_db()
    assert personas.org.contact_phone == ""
    assert not Event.objects.filter(event="organisation.contact").exists()


def test_only_the_organisations_admins_set_its_blocks(personas):
    with pytest.raises(NotAllowed):
        contact_update(owner=personas.org, actor=personas.sender, phone="03-1111-2222")
    with pytest.raises(NotAllowed):
        contact_update(owner=personas.contracts_dept, actor=personas.outsider, person="他町")
    outsider = Client()
    outsider.force_login(personas.outsider)
    url = f"/admin-org/departments/{personas.contracts_dept.pk}/contact/"
    assert outsider.get(url).status_code == 404


def test_the_online_applications_mail_and_page_show_the_block_too(personas):
    """The 電子契約利用申出書 goes to the same companies: the same block (R14, issue 14)."""
    from keiyaku.notifications.models import OutboxMessage
    from tests.applications.helpers import FORM_RE, send

    contact_update(
        owner=personas.contracts_dept, actor=personas.admin, phone="03-9876-5432", hours="平日"
    )
    contract = draft_contract(personas.sender)
    send(contract, personas.sender, email="office@takahashi.example.jp")
    mail = OutboxMessage.objects.get(to="office@takahashi.example.jp")
    assert "電話番号: 03-9876-5432" in mail.body
    page = Client().get(FORM_RE.findall(mail.body)[0]).content.decode()
    assert "03-9876-5432" in page and 'id="contact"' in page
