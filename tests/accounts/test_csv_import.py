"""Bulk registration of staff from CSV (R35): preview every bad row, then all or nothing."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku.accounts.csv_import import staff_csv_plan
from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.services import AccountsError, department_create, staff_import_apply
from keiyaku.excel_csv import BOM as UTF8_BOM
from keiyaku.notifications.models import OutboxMessage

HEADER = ["氏名", "ふりがな", "所属", "メールアドレス", "ログインID", "役割"]
DEPARTMENTS = ["契約課", "土木課", "総務課", "髙島出張所", "財政課"]


def rows(n: int = 500) -> list[list[str]]:
    """n good staff rows; names use characters only CP932 has (髙, ①)."""
    return [
        [
            f"髙橋 {i:03d}①",
            f"たかはし {i:03d}",
            DEPARTMENTS[i % len(DEPARTMENTS)],
            f"staff{i:03d}@city.example.jp",
            f"staff{i:03d}",
            "契約事務担当者" if i % 7 else "管理者 閲覧者",
        ]
        for i in range(n)
    ]


def to_csv(records: list[list[str]], encoding: str = "cp932", bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([HEADER, *records])
    return (UTF8_BOM if bom else b"") + out.getvalue().encode(encoding)


# The 7 kinds of bad rows, each at a known line (line 1 is the header, row i is line i + 2).
BAD = {
    12: ("department", "存在しない課", "所属「存在しない課」が登録されていません。"),
    40: ("email", "staff003@city.example.jp", "が5行目と重複しています"),
    77: ("email", "not-an-address", "の形式が正しくありません"),
    101: ("roles", "係長", "役割「係長」はありません"),
    150: ("name", "", "氏名がありません。"),
    222: ("login", "staff010", "ログインID「staff010」が12行目と重複しています"),
    303: ("columns", None, "列の数が見出しと違います"),
}
COLUMN = {"name": 0, "department": 2, "email": 3, "login": 4, "roles": 5}


def with_bad_rows() -> list[list[str]]:
    records = rows()
    for line, (kind, value, _reason) in BAD.items():
        row = records[line - 2]
        if kind == "columns":
            row.append("余分な列")
        else:
            row[COLUMN[kind]] = value
    return records


@pytest.fixture
def city(personas):
    for name in DEPARTMENTS:
        if name not in ("契約課", "土木課", "総務課"):
            department_create(organisation=personas.org, actor=personas.admin, name=name)
    client = Client()
    client.force_login(personas.admin)
    return client


def preview(client: Client, data: bytes, *, update: bool = False):
    upload = SimpleUploadedFile("職員.csv", data, content_type="text/csv")
    return client.post(
        "/admin-org/staff/import/", {"file": upload, **({"update": "on"} if update else {})}
    )


def apply(client: Client, response) -> object:
    page = response.content.decode()
    payload = re.search(r'name="payload" value="([^"]*)"', page, re.S)
    assert payload, page[:3000]
    update = re.search(r'name="update" value="(\w+)"', page)
    return client.post(
        "/admin-org/staff/import/apply/",
        {"payload": html.unescape(payload.group(1)), "update": update.group(1) if update else ""},
    )


def test_shift_jis_file_with_seven_kinds_of_bad_rows_is_previewed_and_nothing_saved(personas, city):
    staff_before = Staff.objects.count()
    response = preview(city, to_csv(with_bad_rows()))
    assert response.status_code == 400
    page = response.content.decode()
    assert "7 行に誤りがあります" in page
    errors = re.findall(r'<tr class="bad"><td>(\d+)</td>(.*?)</tr>', page, re.S)
    reported = {int(line): text for line, text in errors}
    assert set(reported) == set(BAD), sorted(reported)
    for line, (_kind, _value, reason) in BAD.items():
        assert reason in reported[line], (line, reported[line])
    assert "この内容で登録する" not in page
    assert Staff.objects.count() == staff_before
    assert not OutboxMessage.objects.filter(kind="staff_welcome").exists()


def test_corrected_file_imports_all_500_in_one_step_and_reimport_updates(personas, city):
    staff_before = Staff.objects.count()
    response = preview(city, to_csv(rows()))
    assert response.status_code == 200
    assert "500 行に誤りはありません（新規登録 500 名、更新 0 名）" in response.content.decode()
    assert Staff.objects.count() == staff_before  # the preview saves nothing

    response = apply(city, response)
    assert response.status_code == 302
    assert Staff.objects.count() == staff_before + 500
    taka = Staff.objects.get(username="staff003")
    assert taka.display_name == "髙橋 003①" and taka.kana == "たかはし 003"
    assert taka.department.name == "髙島出張所"
    assert taka.roles == [Role.SENDER]
    assert not taka.has_usable_password()
    assert Staff.objects.get(username="staff007").roles == [Role.ADMIN, Role.VIEWER]
    # Each new member is e-mailed a link to set a password (valid for days, tests/login).
    (mail,) = OutboxMessage.objects.filter(to="staff003@city.example.jp", kind="staff_welcome")
    assert re.search(r"https?://\S+/welcome/[\w-]+/[\w-]+/", mail.body), mail.body

    # Re-import with changes, in update mode: the same 500, changed; nobody duplicated.
    changed = rows()
    for record in changed:
        record[5] = "承認者"
    changed[3][2] = "契約課"
    response = preview(city, to_csv(changed, "utf-8", bom=True), update=True)
    assert "新規登録 0 名、更新 500 名" in response.content.decode()
    response = apply(city, response)
    assert response.status_code == 302
    assert Staff.objects.count() == staff_before + 500
    taka.refresh_from_db()
    assert taka.roles == [Role.APPROVER] and taka.department.name == "契約課"
    assert OutboxMessage.objects.filter(to="staff003@city.example.jp").count() == 1


def test_reimport_without_update_mode_reports_existing_login_ids(personas, city):
    data = to_csv(rows(3), "utf-8")
    staff_import_apply(organisation=personas.org, actor=personas.admin, data=data, update=False)
    plan = staff_csv_plan(data, organisation=personas.org, update=False)
    assert [row.line for row in plan.bad_rows] == [2, 3, 4]
    assert "既に登録されています" in plan.bad_rows[0].errors[0]


def test_apply_is_all_or_nothing(personas, city):
    records = rows(10)
    records[9][2] = "存在しない課"
    before = Staff.objects.count()
    with pytest.raises(AccountsError):
        staff_import_apply(
            organisation=personas.org, actor=personas.admin, data=to_csv(records), update=False
        )
    assert Staff.objects.count() == before


def test_utf8_without_bom_and_english_headings_are_read(personas, city):
    text = "name,kana,department,e-mail,login ID,roles\r\n山田 一郎,,契約課,ichiro@city.example.jp,ichiro,sender approver\r\n"
    plan = staff_csv_plan(text.encode(), organisation=personas.org, update=False)
    assert plan.ok, [r.errors for r in plan.rows]
    assert plan.rows[0].roles == [Role.SENDER, Role.APPROVER]


def test_a_missing_column_and_undecodable_bytes_are_reported(personas, city):
    plan = staff_csv_plan(
        "氏名,所属\r\n山田,契約課\r\n".encode(), organisation=personas.org, update=False
    )
    assert "見出し行に必要な列がありません: メールアドレス、ログインID、役割" in plan.file_errors
    plan = staff_csv_plan(b"\x82\xa0\x81", organisation=personas.org, update=False)
    assert plan.file_errors and "文字コード" in plan.file_errors[0]
    response = preview(city, b"")
    assert response.status_code == 400


def test_logins_and_addresses_of_another_organisation_do_not_clash_silently(personas, city):
    records = [["他町 職員", "", "契約課", "new@city.example.jp", "outsider", "閲覧者"]]
    plan = staff_csv_plan(to_csv(records), organisation=personas.org, update=True)
    assert "ログインID「outsider」は使用できません" in plan.bad_rows[0].errors[0]
    records = [["重複", "", "契約課", "SENDER@city.example.jp", "someone", "閲覧者"]]
    plan = staff_csv_plan(to_csv(records), organisation=personas.org, update=False)
    assert "別の職員（sender）が使っています" in plan.bad_rows[0].errors[0]


def test_the_template_is_utf8_with_bom_and_reads_back(personas, city):
    response = city.get("/admin-org/staff/import/template.csv")
    assert response.status_code == 200
    assert response.content.startswith(UTF8_BOM)
    assert (
        response.content[3:]
        .decode("utf-8")
        .startswith("氏名,ふりがな,所属,メールアドレス,ログインID,役割")
    )


def test_only_admins_import(personas, city):
    sender = Client()
    sender.force_login(personas.sender)
    assert preview(sender, to_csv(rows(2))).status_code == 403
    assert sender.get("/admin-org/staff/import/template.csv").status_code == 403


def test_the_staff_export_reimports_as_an_update(personas, city):
    response = city.get("/admin-org/staff/export.csv")
    assert response.status_code == 200 and response.content.startswith(UTF8_BOM)
    text = response.content[3:].decode("utf-8")
    assert "契約 花子,,契約課,sender@city.example.jp,sender,契約事務担当者" in text
    personas.sender.department = None
    personas.sender.save()
    response = city.get("/admin-org/staff/export.csv")
    plan = staff_csv_plan(response.content, organisation=personas.org, update=True)
    assert plan.ok and plan.updates == Staff.objects.filter(organisation=personas.org).count()


def test_a_cell_with_a_line_break_is_a_bad_row(personas, city):
    # A quoted cell may hold a line break; imported, it would reach the welcome mail as two lines.
    records = rows(2)
    records[0][0] = "髙橋\n【重要】"
    records[1][2] = "契約\u2028課"
    plan = staff_csv_plan(to_csv(records, "utf-8"), organisation=personas.org, update=False)
    assert not plan.ok
    assert plan.rows[0].errors == ["氏名には改行・タブなどの制御文字を入力できません（U+000A）。"]
    assert plan.rows[1].errors[0] == "所属には改行・タブなどの制御文字を入力できません（U+2028）。"
