"""Staff and department screens for organisation admins (R2, R35, R36), and the operator's."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from keiyaku.accounts.models import Department, Organisation, Role, Staff
from keiyaku.notifications.models import OutboxMessage


@pytest.fixture
def admin(personas) -> Client:
    client = Client()
    client.force_login(personas.admin)
    return client


def test_admin_adds_a_staff_member_who_gets_a_password_link(personas, admin):
    assert "管理" in admin.get("/").content.decode()
    response = admin.post(
        "/admin-org/staff/new/",
        {
            "display_name": "新人 三郎",
            "kana": "しんじん さぶろう",
            "username": "saburo",
            "email": "saburo@city.example.jp",
            "department": personas.other_dept.pk,
            "roles": ["sender", "approver"],
        },
    )
    assert response.status_code == 302
    saburo = Staff.objects.get(username="saburo")
    assert saburo.organisation == personas.org and saburo.roles == ["sender", "approver"]
    assert not saburo.has_usable_password()
    mail = OutboxMessage.objects.get(to="saburo@city.example.jp")
    assert "アカウントが登録されました" in mail.subject and "/welcome/" in mail.body
    page = admin.get("/admin-org/", {"q": "しんじん"}).content.decode()
    assert "新人 三郎" in page and "契約事務担当者、承認者" in page


def test_bad_input_gives_japanese_messages_not_500(personas, admin):
    response = admin.post(
        "/admin-org/staff/new/",
        {"display_name": "", "username": "bad id!", "email": "x", "roles": ["king"]},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "このフィールドは必須です" in page or "必須" in page
    response = admin.post(
        "/admin-org/staff/new/",
        {
            "display_name": "重複",
            "username": "sender",
            "email": "dup@city.example.jp",
            "roles": ["viewer"],
        },
    )
    assert response.status_code == 400
    assert "ログインID「sender」は既に使われています" in response.content.decode()


def test_staff_are_disabled_never_deleted_and_an_admin_remains(personas, admin):
    form = {
        "display_name": "契約 花子",
        "username": "sender",
        "email": "sender@city.example.jp",
        "department": personas.contracts_dept.pk,
        "roles": ["sender"],
    }
    assert admin.post(f"/admin-org/staff/{personas.sender.pk}/", form).status_code == 302
    personas.sender.refresh_from_db()
    assert not personas.sender.is_active
    page = admin.get("/admin-org/").content.decode()
    assert "無効" in page and "契約 花子" in page
    # The only admin cannot take away their own admin role.
    response = admin.post(
        f"/admin-org/staff/{personas.admin.pk}/",
        {
            "display_name": "管理 太郎",
            "username": "city-admin",
            "email": "kanri@city.example.jp",
            "roles": ["sender"],
            "is_active": "on",
        },
    )
    assert response.status_code == 400
    assert "有効な管理者が一人もいなくなる" in response.content.decode()


def test_departments_form_a_tree(personas, admin):
    assert admin.post("/admin-org/departments/", {"name": "都市整備部"}).status_code == 302
    bureau = Department.objects.get(name="都市整備部")
    response = admin.post(
        f"/admin-org/departments/{personas.other_dept.pk}/",
        {"name": "土木課", "parent": bureau.pk},
    )
    assert response.status_code == 302
    personas.other_dept.refresh_from_db()
    assert personas.other_dept.parent == bureau
    page = admin.get("/admin-org/departments/").content.decode()
    assert page.index("都市整備部") < page.index("土木課")
    response = admin.post("/admin-org/departments/", {"name": "土木課"})
    assert response.status_code == 400 and "既にあります" in response.content.decode()


def test_other_organisations_rows_are_404_and_non_admins_403(personas):
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.get(f"/admin-org/staff/{personas.sender.pk}/").status_code == 404
    assert outsider.get(f"/admin-org/departments/{personas.other_dept.pk}/").status_code == 404
    assert "契約 花子" not in outsider.get("/admin-org/").content.decode()
    sender = Client()
    sender.force_login(personas.sender)
    assert sender.get("/admin-org/").status_code == 403
    assert "管理</a>" not in sender.get("/").content.decode()


def test_the_platform_operator_creates_organisations(db):
    operator = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-operator-1")
    client = Client()
    client.force_login(operator)
    response = client.post(
        "/admin-org/organisations/",
        {
            "name": "札幌市",
            "slug": "sapporo",
            "admin_username": "sapporo-admin",
            "admin_name": "札幌 管理者",
            "admin_email": "admin@city.sapporo.example.jp",
        },
    )
    assert response.status_code == 302
    admin = Staff.objects.get(username="sapporo-admin")
    assert admin.organisation.slug == "sapporo" and Role.ADMIN in admin.roles
    assert (
        client.post("/admin-org/organisations/", {"name": "x", "slug": "sapporo"}).status_code
        == 400
    )


def test_the_operator_marks_an_organisation_trial(db):
    operator = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-operator-1")
    client = Client()
    client.force_login(operator)
    assert 'name="is_trial"' in client.get("/admin-org/organisations/").content.decode()
    response = client.post(
        "/admin-org/organisations/",
        {
            "name": "練習市",
            "slug": "practice",
            "admin_username": "practice-admin",
            "admin_name": "練習 管理者",
            "admin_email": "admin@practice.example.jp",
            "is_trial": "on",
        },
    )
    assert response.status_code == 302
    assert Organisation.objects.get(slug="practice").is_trial
    assert "練習用組織</td>" in client.get("/admin-org/organisations/").content.decode()


def test_organisation_create_command_makes_a_trial_organisation(db, capsys):
    call_command(
        "organisation_create",
        "--name=練習町",
        "--slug=practice-town",
        "--admin-login=practice-town-admin",
        "--admin-name=練習 管理者",
        "--admin-email=admin@practice-town.example.jp",
        "--trial",
    )
    assert Organisation.objects.get(slug="practice-town").is_trial
    assert "trial" in capsys.readouterr().out


def test_organisation_create_command(db, capsys):
    call_command(
        "organisation_create",
        "--name=旭川市",
        "--slug=asahikawa",
        "--admin-login=asahikawa-admin",
        "--admin-name=旭川 管理者",
        "--admin-email=admin@asahikawa.example.jp",
    )
    assert not Organisation.objects.get(slug="asahikawa").is_trial
    assert "/welcome/" in capsys.readouterr().out


def test_the_screens_are_in_english_for_english_browsers(personas):
    client = Client(headers={"accept-language": "en"})
    client.force_login(personas.admin)
    for url, text in (
        ("/admin-org/", "Add a staff member"),
        ("/admin-org/staff/import/", "Download the template CSV"),
        ("/admin-org/departments/", "Add a department"),
        ("/admin-org/settings/", "IP address restriction"),
        ("/admin-org/audit/", "Export as CSV"),
    ):
        page = client.get(url).content.decode()
        assert text in page and "Audit log" in page, url


def test_a_refusal_is_a_japanese_page(personas):
    viewer = Client()
    viewer.force_login(personas.viewer)
    response = viewer.get("/admin-org/")
    assert response.status_code == 403
    assert "この操作は許可されていません" in response.content.decode()
