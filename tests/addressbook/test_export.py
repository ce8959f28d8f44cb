"""CSV export: UTF-8 with BOM or Shift_JIS, and a file that imports back to the same book."""

from __future__ import annotations

import csv
import io

from django.test import Client

from keiyaku.accounts.services import organisation_create, staff_create
from keiyaku.addressbook import csvfile, services
from keiyaku.addressbook.models import Contact


def fill(personas, roads_sender) -> None:
    company = services.company_create(
        actor=personas.sender, name="株式会社髙橋建設", kana="タカハシケンセツ"
    )
    services.contact_create(
        company=company,
        actor=personas.sender,
        name="髙橋 一郎",
        email="takahashi@example.jp",
        phone="011-123-4567",
        title="代表取締役, 社長",  # a comma inside a cell
    )
    services.contact_create(company=company, actor=personas.sender, name="佐藤 ①子", email="s@e.jp")
    private = services.company_create(
        actor=roads_sender, name="土木課の業者", department=personas.other_dept
    )
    services.contact_create(company=private, actor=roads_sender, name="丙", email="h@e.jp")


def rows_of(staff) -> set[tuple[str, ...]]:
    return {
        (c.company.name, c.company.kana, c.name, c.email, c.phone, c.title)
        for c in Contact.objects.filter(company__organisation=staff.organisation)
    }


def download(staff, encoding: str) -> tuple[str, bytes]:
    client = Client()
    client.force_login(staff)
    response = client.get("/addressbook/export.csv", {"encoding": encoding})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="addressbook-')
    return response["Content-Type"], response.content


def test_utf8_export_has_bom_and_crlf_and_only_visible_contacts(personas, roads_sender):
    fill(personas, roads_sender)
    content_type, data = download(personas.sender, "utf-8")
    assert content_type == "text/csv; charset=utf-8"
    assert data.startswith(b"\xef\xbb\xbf" + "会社名,会社名カナ,氏名".encode())
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))
    assert rows[0] == list(csvfile.HEADER)
    assert [r[2] for r in rows[1:]] == ["佐藤 ①子", "髙橋 一郎"]  # 土木課's entry is not shown


def test_shift_jis_export_round_trips_into_another_organisation(personas, roads_sender):
    fill(personas, roads_sender)
    content_type, data = download(personas.sender, "shift_jis")
    assert content_type == "text/csv; charset=shift_jis"
    text = data.decode("cp932")
    assert text.startswith("会社名,会社名カナ,氏名,メールアドレス,電話番号,部署・役職\r\n")

    town = organisation_create(name="別の市", slug="another-city")
    clerk = staff_create(
        organisation=town,
        username="clerk",
        password=personas.password,
        display_name="職員",
        email="clerk@another.example.jp",
    )
    services.contacts_import(actor=clerk, text=csvfile.decode(data))
    expected = {row for row in rows_of(personas.sender) if row[0] != "土木課の業者"}
    assert rows_of(clerk) == expected


def test_utf8_export_imports_back_without_change(personas, roads_sender):
    fill(personas, roads_sender)
    _, data = download(personas.sender, "utf-8")
    rows = csvfile.parse(csvfile.decode(data))
    assert {(r.company, r.kana, r.name, r.email, r.phone, r.title) for r in rows} == {
        row for row in rows_of(personas.sender) if row[0] != "土木課の業者"
    }
    # Importing it into the same book again: every row is a duplicate, nothing changes.
    checked = services.import_check(actor=personas.sender, text=csvfile.decode(data))
    assert all("登録済み" in row.errors[0] for row in checked)


def test_unknown_encoding_falls_back_to_utf8(personas, roads_sender):
    fill(personas, roads_sender)
    content_type, data = download(personas.sender, "latin-1")
    assert content_type == "text/csv; charset=utf-8" and data.startswith(b"\xef\xbb\xbf")
