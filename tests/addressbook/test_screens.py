"""The address-book screens: forms call the services; English is the second language."""

from __future__ import annotations

from django.test import Client
from django.utils import translation

from keiyaku.addressbook import services
from keiyaku.addressbook.models import Company, Contact


def client_for(staff, **headers) -> Client:
    client = Client(headers=headers)
    client.force_login(staff)
    return client


def test_add_a_department_private_company_and_a_contact(personas):
    client = client_for(personas.sender)
    page = client.get("/addressbook/companies/new/").content.decode()
    assert "所属（契約課）のみ" in page
    response = client.post(
        "/addressbook/companies/new/",
        {"name": "株式会社髙橋建設", "kana": "タカハシケンセツ", "visibility": "department"},
    )
    company = Company.objects.get()
    assert response["Location"] == f"/addressbook/companies/{company.pk}/"
    assert company.department == personas.contracts_dept

    response = client.post(
        f"/addressbook/companies/{company.pk}/contacts/new/",
        {"name": "髙橋 一郎", "email": "takahashi@example.jp", "phone": "", "title": ""},
    )
    assert response.status_code == 302
    assert Contact.objects.get().company == company
    page = client.get(f"/addressbook/companies/{company.pk}/").content.decode()
    assert "髙橋 一郎" in page and "契約課" in page


def test_service_refusals_are_shown_on_the_form(personas):
    client = client_for(personas.sender)
    client.post("/addressbook/companies/new/", {"name": "株式会社A", "visibility": "shared"})
    response = client.post(
        "/addressbook/companies/new/", {"name": "株式会社A", "visibility": "shared"}
    )
    assert response.status_code == 400
    assert "会社「株式会社A」は既に登録されています" in response.content.decode()


def test_address_book_in_english(personas):
    client = client_for(personas.sender, accept_language="en")
    try:
        page = client.get("/addressbook/").content.decode()
    finally:
        translation.deactivate()
    assert "<h1>Address book</h1>" in page
    assert "Add company" in page and "Import CSV" in page and "Export CSV" in page
    assert "アドレス帳" not in page


def test_a_viewer_sees_the_book_without_change_buttons_and_is_refused(personas):
    company = services.company_create(actor=personas.sender, name="株式会社A")
    client = client_for(personas.viewer)
    page = client.get("/addressbook/").content.decode()
    assert "株式会社A" in page and "会社を追加" not in page and "CSVインポート" not in page
    page = client.get(f"/addressbook/companies/{company.pk}/").content.decode()
    assert "会社を編集" not in page and "連絡先を追加" not in page
    assert client.get("/addressbook/companies/new/").status_code == 403
    assert client.post("/addressbook/import/").status_code == 403
    assert client.post(f"/addressbook/companies/{company.pk}/delete/").status_code == 403
    assert client.get("/addressbook/export.csv").status_code == 200
    assert Company.objects.filter(pk=company.pk).exists()


def test_edit_and_delete_through_the_screens(personas):
    company = services.company_create(actor=personas.sender, name="株式会社A")
    contact = services.contact_create(
        company=company, actor=personas.sender, name="甲", email="a@example.jp"
    )
    client = client_for(personas.sender)
    assert (
        'value="株式会社A"'
        in client.get(f"/addressbook/companies/{company.pk}/edit/").content.decode()
    )
    client.post(f"/addressbook/companies/{company.pk}/edit/", {"name": "株式会社A建設"})
    client.post(
        f"/addressbook/contacts/{contact.pk}/edit/",
        {"name": "甲 太郎", "email": "taro@example.jp", "phone": "03-0000-0000", "title": ""},
    )
    contact.refresh_from_db()
    assert (contact.company.name, contact.name, contact.email, contact.phone) == (
        "株式会社A建設",
        "甲 太郎",
        "taro@example.jp",
        "03-0000-0000",
    )
    response = client.post(f"/addressbook/contacts/{contact.pk}/delete/", follow=True)
    assert "連絡先「甲 太郎」を削除しました" in response.content.decode()
    response = client.post(f"/addressbook/companies/{company.pk}/delete/", follow=True)
    assert "会社「株式会社A建設」を削除しました" in response.content.decode()
    assert not Company.objects.exists() and not Contact.objects.exists()
