"""CSV import: Excel's encodings, the preview's reasons for bad rows, all-or-nothing apply."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.addressbook import csvfile, services
from keiyaku.addressbook.errors import AddressBookError
from keiyaku.addressbook.models import Company, Contact

HEADER = "会社名,会社名カナ,氏名,メールアドレス,電話番号,部署・役職\r\n"
GOOD = (
    HEADER
    + "株式会社髙橋建設,タカハシケンセツ,髙橋 一郎,takahashi@example.jp,011-123-4567,代表取締役\r\n"
    + "株式会社髙橋建設,タカハシケンセツ,佐藤 ①子,sato@example.jp,,工事部 主任\r\n"
    + "有限会社渡辺工務店,,渡辺 花子,watanabe@example.jp,,\r\n"
)
BAD = (
    HEADER
    + "株式会社A,,甲 太郎,kou@example.jp,,\r\n"
    + "株式会社A,,乙 次郎,not-an-address,,\r\n"
    + ",,丙 三郎,hei@example.jp,,\r\n"
    + "株式会社B,,,tei@example.jp,,\r\n"
    + "株式会社A,,甲 太郎（重複）,KOU@example.jp,,\r\n"
)


def upload(client: Client, data: bytes, **extra) -> str:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/addressbook/import/",
        {
            "file": SimpleUploadedFile("連絡先.csv", data, "text/csv"),
            "visibility": "shared",
            **extra,
        },
    )
    return response.content.decode()


@pytest.fixture
def staff_client(personas) -> Client:
    client = Client()
    client.force_login(personas.sender)
    return client


def test_decode_reads_utf8_with_and_without_bom_and_shift_jis():
    for data in (
        b"\xef\xbb\xbf" + GOOD.encode("utf-8"),
        GOOD.encode("utf-8"),
        GOOD.encode("cp932"),  # as Excel writes 「CSV（コンマ区切り）」: 髙 and ① are CP932 only
    ):
        assert csvfile.decode(data) == GOOD


def test_undecodable_file_is_refused():
    with pytest.raises(csvfile.CsvError, match="文字コード"):
        csvfile.decode(b"\x82\xa0\xff\xfe\x00\x81")


def test_header_is_required():
    with pytest.raises(csvfile.CsvError, match="見つからない列: 氏名、メールアドレス"):
        csvfile.parse("会社名,部署\r\n株式会社A,総務\r\n")


def test_bad_rows_are_listed_with_reasons(personas):
    rows = services.import_check(actor=personas.sender, text=BAD)
    reasons = {row.line: row.errors for row in rows}
    assert reasons == {
        2: (),
        3: ("メールアドレスの形式が正しくありません",),
        4: ("会社名がありません",),
        5: ("氏名がありません",),
        6: ("2行目と重複しています",),
    }


def test_a_contact_already_in_the_book_is_a_duplicate(personas):
    company = services.company_create(actor=personas.sender, name="株式会社A")
    services.contact_create(
        company=company, actor=personas.sender, name="甲 太郎", email="kou@example.jp"
    )
    (row,) = services.import_check(
        actor=personas.sender, text=HEADER + "株式会社A,,甲,Kou@Example.jp,,\r\n"
    )
    assert row.errors == ("同じ会社・メールアドレスの連絡先がアドレス帳に登録済みです",)
    # The same contact private to a department is a different entry.
    (row,) = services.import_check(
        actor=personas.sender,
        text=HEADER + "株式会社A,,甲,kou@example.jp,,\r\n",
        department=personas.contracts_dept,
    )
    assert row.errors == ()


def test_one_bad_row_imports_nothing(personas):
    with pytest.raises(AddressBookError, match="取り込めない行が4行あります"):
        services.contacts_import(actor=personas.sender, text=BAD)
    assert not Company.objects.exists() and not Contact.objects.exists()


def test_import_creates_companies_once_and_joins_existing_ones(personas):
    existing = services.company_create(actor=personas.sender, name="有限会社渡辺工務店")
    result = services.contacts_import(actor=personas.sender, text=GOOD)
    assert (result.companies, result.contacts) == (1, 3)
    takahashi = Company.objects.get(name="株式会社髙橋建設")
    assert takahashi.kana == "タカハシケンセツ" and takahashi.is_shared
    assert sorted(takahashi.contacts.values_list("name", flat=True)) == ["佐藤 ①子", "髙橋 一郎"]
    assert existing.contacts.get().email == "watanabe@example.jp"
    assert Contact.objects.get(email="sato@example.jp").title == "工事部 主任"


def test_preview_then_apply_utf8_with_bom(personas, staff_client):
    page = upload(staff_client, b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    assert "3件の連絡先を取り込みます" in page
    assert "佐藤 ①子" in page
    assert not Contact.objects.exists()  # the preview stores nothing
    assert 'name="text"' in page
    response = staff_client.post("/addressbook/import/", {"text": GOOD, "visibility": "shared"})
    assert response.status_code == 302 and response["Location"] == "/addressbook/"
    assert Contact.objects.count() == 3


def test_preview_of_shift_jis_file_with_bad_rows_offers_no_apply(personas, staff_client):
    page = upload(staff_client, BAD.encode("cp932"))
    assert "取り込めない行が4行あります" in page
    assert "メールアドレスの形式が正しくありません" in page
    assert "2行目と重複しています" in page
    assert "会社名がありません" in page and "氏名がありません" in page
    assert 'name="text"' not in page  # no 「取り込む」 button
    assert not Contact.objects.exists()


def test_forged_apply_of_bad_rows_is_refused(personas, staff_client):
    response = staff_client.post(
        "/addressbook/import/", {"text": BAD, "visibility": "shared"}, follow=True
    )
    assert "取り込めない行が4行あります" in response.content.decode()
    assert not Contact.objects.exists()


def test_department_private_import(personas, staff_client):
    upload(staff_client, GOOD.encode("utf-8"))
    staff_client.post("/addressbook/import/", {"text": GOOD, "visibility": "department"})
    assert set(Company.objects.values_list("department", flat=True)) == {personas.contracts_dept.pk}


def test_unreadable_file_is_explained(personas, staff_client):
    page = upload(staff_client, b"\x00\xff\xfe\x81")
    assert "文字コードを判別できません" in page


def test_a_cell_with_a_line_break_is_a_bad_row(personas):
    # A quoted cell may hold a line break; imported, it would reach mail and PDFs as two lines.
    text = (
        HEADER
        + '"株式会社A\r\n【重要】",,甲 太郎,kou@example.jp,,\r\n'
        + "株式会社B,,乙\t次郎,o@example.jp,,\r\n"
    )
    rows = services.import_check(actor=personas.sender, text=text)
    assert [row.errors for row in rows] == [
        ("会社名には改行・タブなどの制御文字を入力できません（U+000D, U+000A）。",),
        ("氏名には改行・タブなどの制御文字を入力できません（U+0009）。",),
    ]
    with pytest.raises(AddressBookError):
        services.contacts_import(actor=personas.sender, text=text)
    assert not Contact.objects.exists()
