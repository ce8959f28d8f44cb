"""Address-book writes: validation, uniqueness, scope, audit."""

from __future__ import annotations

import pytest

from keiyaku.addressbook import services
from keiyaku.addressbook.errors import AddressBookError
from keiyaku.addressbook.models import Company, Contact
from keiyaku.audit.models import Event


def test_company_and_contact_are_created_and_audited(personas):
    company = services.company_create(
        actor=personas.sender, name=" 株式会社髙橋建設 ", kana="タカハシケンセツ", note="指名業者"
    )
    contact = services.contact_create(
        company=company,
        actor=personas.sender,
        name="髙橋 一郎",
        email="takahashi@example.jp",
        phone="011-123-4567",
        title="代表取締役",
    )
    assert company.name == "株式会社髙橋建設"
    assert company.organisation == personas.org and company.is_shared
    assert list(company.contacts.all()) == [contact]
    events = list(Event.objects.filter(subject=f"addressbook.company:{company.pk}"))
    assert [e.event for e in events] == ["addressbook.company.add", "addressbook.contact.add"]
    assert events[0].actor == personas.sender and events[0].organisation == personas.org


def test_company_name_is_unique_in_its_scope_only(personas):
    services.company_create(actor=personas.sender, name="株式会社A")
    with pytest.raises(AddressBookError, match="既に登録されています"):
        services.company_create(actor=personas.sender, name="株式会社A")
    # A department may keep its own entry of the same name; another organisation too.
    services.company_create(
        actor=personas.sender, name="株式会社A", department=personas.contracts_dept
    )
    services.company_create(actor=personas.outsider, name="株式会社A")
    assert Company.objects.filter(name="株式会社A").count() == 3


def test_contact_needs_a_name_and_a_valid_unique_email(personas):
    company = services.company_create(actor=personas.sender, name="株式会社A")
    with pytest.raises(AddressBookError, match="氏名を入力してください"):
        services.contact_create(company=company, actor=personas.sender, name=" ", email="a@b.jp")
    with pytest.raises(AddressBookError, match="メールアドレスの形式"):
        services.contact_create(
            company=company, actor=personas.sender, name="甲", email="not-an-address"
        )
    services.contact_create(company=company, actor=personas.sender, name="甲", email="a@b.jp")
    with pytest.raises(AddressBookError, match="既に登録されています"):
        services.contact_create(company=company, actor=personas.sender, name="乙", email="A@B.JP")
    assert Contact.objects.count() == 1


def test_update_and_delete(personas):
    company = services.company_create(actor=personas.sender, name="株式会社A")
    contact = services.contact_create(
        company=company, actor=personas.sender, name="甲", email="a@b.jp"
    )
    services.company_update(company=company, actor=personas.sender, name="株式会社A建設")
    services.contact_update(
        contact=contact, actor=personas.sender, name="甲 太郎", email="taro@b.jp", title="部長"
    )
    contact.refresh_from_db()
    assert (contact.company.name, contact.name, contact.email, contact.title) == (
        "株式会社A建設",
        "甲 太郎",
        "taro@b.jp",
        "部長",
    )
    services.contact_delete(contact=contact, actor=personas.sender)
    services.company_delete(company=company, actor=personas.sender)
    assert not Company.objects.exists()
    assert Event.objects.filter(event="addressbook.company.delete").count() == 1


def test_deleting_a_company_deletes_its_contacts(personas):
    company = services.company_create(actor=personas.sender, name="株式会社A")
    services.contact_create(company=company, actor=personas.sender, name="甲", email="a@b.jp")
    services.company_delete(company=company, actor=personas.sender)
    assert not Contact.objects.exists()


def test_staff_cannot_create_an_entry_private_to_another_department(personas):
    with pytest.raises(AddressBookError, match="自分の所属以外"):
        services.company_create(
            actor=personas.sender, name="株式会社A", department=personas.other_dept
        )


def test_staff_cannot_change_what_they_cannot_see(personas, roads_sender):
    private = services.company_create(
        actor=roads_sender, name="土木課の業者", department=personas.other_dept
    )
    with pytest.raises(AddressBookError):
        services.company_update(company=private, actor=personas.sender, name="乗っ取り")
    with pytest.raises(AddressBookError):
        services.contact_create(company=private, actor=personas.outsider, name="甲", email="a@b.jp")
    with pytest.raises(AddressBookError):
        services.company_delete(company=private, actor=personas.outsider)
    assert Company.objects.filter(pk=private.pk, name="土木課の業者").exists()


def test_a_viewer_reads_but_changes_nothing(personas):
    company = services.company_create(actor=personas.sender, name="株式会社A")
    with pytest.raises(AddressBookError, match="権限がありません"):
        services.company_create(actor=personas.viewer, name="株式会社B")
    with pytest.raises(AddressBookError, match="権限がありません"):
        services.contact_create(company=company, actor=personas.viewer, name="甲", email="a@b.jp")
    with pytest.raises(AddressBookError, match="権限がありません"):
        services.company_delete(company=company, actor=personas.viewer)
    with pytest.raises(AddressBookError, match="権限がありません"):
        services.contacts_import(
            actor=personas.viewer,
            text="会社名,会社名カナ,氏名,メールアドレス,電話番号,部署・役職\r\n株式会社C,,乙,b@c.jp,,\r\n",
        )
    assert list(Company.objects.values_list("name", flat=True)) == ["株式会社A"]
