"""Password reset by e-mail, with the password policy on the new password."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from keiyaku.accounts.models import Role
from keiyaku.accounts.services import staff_invite
from keiyaku.accounts.tokens import welcome_tokens
from keiyaku.audit.models import Event
from keiyaku.notifications.models import CapturedMail
from tests.login.helpers import password_step


def reset_link(to: str) -> str:
    mail = CapturedMail.objects.filter(to__contains=to).get()
    assert mail.subject == "【keiyaku】パスワード再設定のご案内"
    assert "契約 花子 様" in mail.body and "ログインID: sender" in mail.body
    found = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", mail.body)
    assert found, mail.body
    return found.group(1)


def test_reset_by_mail_with_the_policy(personas):
    client = Client()
    page = client.get("/login/").content.decode()
    assert "パスワードをお忘れの方" in page
    response = client.post("/password-reset/", {"email": "sender@city.example.jp"}, follow=True)
    assert "再設定用のリンクをお送りしました" in response.content.decode()
    link = reset_link("sender@city.example.jp")

    form_url = client.get(link)["Location"]  # Django hides the token behind a redirect
    page = client.get(form_url).content.decode()
    assert "新しいパスワードの設定" in page
    response = client.post(form_url, {"new_password1": "12345", "new_password2": "12345"})
    page = response.content.decode()
    assert "このパスワードは短すぎます。最低 10 文字以上必要です。" in page
    assert "このパスワードは数字しか使われていません。" in page

    new = "kawa-no-nagare-2026"
    response = client.post(form_url, {"new_password1": new, "new_password2": new}, follow=True)
    assert "新しいパスワードを設定しました。" in response.content.decode()
    assert Event.objects.get(event="password.reset").actor == personas.sender
    assert password_step(Client(), "sender", new).status_code == 302
    assert password_step(Client(), "sender", personas.password).status_code == 200

    # The link is used up.
    assert "このリンクは無効です" in Client().get(link, follow=True).content.decode()


def test_unknown_address_gets_the_same_answer_and_no_mail(db):
    response = Client().post("/password-reset/", {"email": "nobody@example.jp"}, follow=True)
    assert "再設定用のリンクをお送りしました" in response.content.decode()
    assert not CapturedMail.objects.exists()


def test_broken_link_is_explained(db):
    page = Client().get("/password-reset/MQ/bad-token/").content.decode()
    assert "このリンクは無効です" in page


def test_password_change_applies_the_policy(personas):
    client = Client()
    password_step(client, "sender", personas.password)
    response = client.post(
        "/account/password/",
        {
            "old_password": personas.password,
            "new_password1": "sender2026x",
            "new_password2": "sender2026x",
        },
    )
    assert "似すぎています" in response.content.decode()
    new = "yama-no-ue-no-kumo-9"
    response = client.post(
        "/account/password/",
        {"old_password": personas.password, "new_password1": new, "new_password2": new},
        follow=True,
    )
    assert "パスワードを変更しました。" in response.content.decode()
    assert Event.objects.filter(event="password.change").count() == 1


def welcome_link(to: str, days: int = 7) -> str:
    mail = CapturedMail.objects.filter(to__contains=to).get()
    assert "keiyaku 電子契約のアカウントが登録されました" in mail.subject
    assert f"このリンクの有効期限は{days}日間です。" in mail.body
    found = re.search(r"https?://[^/\s]+(/welcome/\S+/)", mail.body)
    assert found, mail.body
    return found.group(1)


def new_member(personas):
    return staff_invite(
        organisation=personas.org,
        actor=personas.admin,
        username="shinnin",
        display_name="新任 一郎",
        email="shinnin@city.example.jp",
        department=personas.contracts_dept,
        roles=[Role.SENDER],
    )


@pytest.mark.django_db(transaction=True)  # the welcome mail leaves on commit
def test_a_new_member_sets_a_first_password_within_days_once(personas, monkeypatch):
    staff = new_member(personas)
    assert not staff.has_usable_password()
    link = welcome_link("shinnin@city.example.jp")
    made = welcome_tokens._now()  # Django counts in naive local time
    # Six days later (a reset link would have died after an hour) the link still works.
    monkeypatch.setattr(welcome_tokens, "_now", lambda: made + timedelta(days=6))
    client = Client()
    form_url = client.get(link)["Location"]
    assert "新しいパスワードの設定" in client.get(form_url).content.decode()
    new = "hajimete-no-pass-2026"
    response = client.post(form_url, {"new_password1": new, "new_password2": new}, follow=True)
    assert "新しいパスワードを設定しました。" in response.content.decode()
    assert Event.objects.get(event="password.set").actor == staff
    assert password_step(Client(), "shinnin", new).status_code == 302
    # Used once: the token covered the old (unusable) password.
    assert "このリンクは無効です" in Client().get(link, follow=True).content.decode()


@pytest.mark.django_db(transaction=True)  # the welcome mail leaves on commit
def test_a_welcome_link_dies_after_the_configured_days(personas, monkeypatch, settings):
    settings.KEIYAKU_WELCOME_LINK_DAYS = 3
    new_member(personas)
    link = welcome_link("shinnin@city.example.jp", days=3)
    made = welcome_tokens._now()  # Django counts in naive local time
    monkeypatch.setattr(welcome_tokens, "_now", lambda: made + timedelta(days=3, hours=1))
    assert "このリンクは無効です" in Client().get(link, follow=True).content.decode()


@pytest.mark.django_db(transaction=True)  # the welcome mail leaves on commit
def test_a_welcome_token_is_not_a_reset_token(personas):
    staff = new_member(personas)
    link = welcome_link("shinnin@city.example.jp")
    assert (
        "このリンクは無効です"
        in Client().get(link.replace("/welcome/", "/password-reset/"), follow=True).content.decode()
    )
    assert not welcome_tokens.check_token(staff, "bad-token")
    assert not welcome_tokens.check_token(staff, "")
