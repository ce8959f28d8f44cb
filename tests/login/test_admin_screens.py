"""The organisation admin's screens: sign-in settings and 「ログイン制限の解除」."""

from __future__ import annotations

from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.login import services
from keiyaku.login.models import OrganisationSignIn
from tests.login.helpers import password_step

SETTINGS = {
    "totp_required": "on",
    "session_timeout_minutes": "30",
    "oidc_enabled": "on",
    "oidc_issuer": "https://idp.city.example.jp",
    "oidc_client_id": "keiyaku",
    "oidc_client_secret": "s3cret-value",
    "oidc_match": "email",
}


def logged_in(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_only_admins_see_the_screens(personas, admin):
    # The rule of every administration screen: a member who is not an admin is forbidden.
    for url in ["/signin/settings/", "/signin/locks/"]:
        assert logged_in(admin).get(url).status_code == 200
        assert logged_in(personas.sender).get(url).status_code == 403
        assert logged_in(personas.sender).post(url, SETTINGS).status_code == 403
        assert Client().get(url)["Location"].startswith("/login/")
    assert logged_in(personas.sender).post(f"/signin/locks/{admin.pk}/unlock/").status_code == 403
    assert (
        logged_in(personas.sender).post(f"/signin/locks/{admin.pk}/reset-totp/").status_code == 403
    )


def test_admin_saves_the_settings_of_their_own_organisation(personas, admin):
    client = logged_in(admin)
    without_2fa = {k: v for k, v in SETTINGS.items() if k != "totp_required"}
    response = client.post("/signin/settings/", without_2fa, follow=True)
    assert "ログイン設定を保存しました。" in response.content.decode()
    policy = OrganisationSignIn.objects.get(organisation=personas.org)
    assert not policy.totp_required and policy.session_timeout_minutes == 30
    assert policy.oidc_ready and policy.oidc_match == "email" and not policy.oidc_create_users
    assert services.oidc_client_secret(policy) == "s3cret-value"
    assert "s3cret-value" not in policy.oidc_client_secret_sealed
    assert not OrganisationSignIn.objects.filter(organisation=personas.outsider_org).exists()
    event = Event.objects.get(event="signin.settings")
    assert event.actor == admin and event.detail["after"]["session_timeout_minutes"] == 30
    assert "s3cret-value" not in str(event.detail)

    # The page never shows the secret; saving without one keeps the stored one.
    page = client.get("/signin/settings/").content.decode()
    assert "s3cret-value" not in page and "（登録済み）" in page
    assert (
        "http://testserver/login/oidc/test-city/callback/" in page
        or "/login/oidc/test-city/callback/" in page
    )
    client.post(
        "/signin/settings/", {k: v for k, v in SETTINGS.items() if k != "oidc_client_secret"}
    )
    policy.refresh_from_db()
    assert policy.totp_required
    assert services.oidc_client_secret(policy) == "s3cret-value"
    # The admin has no TOTP and the organisation now requires it: log in again and enrol.
    response = client.get("/signin/settings/", follow=True)
    assert "この組織では2段階認証が必須です" in response.content.decode()


def test_bad_settings_are_explained(personas, admin):
    client = logged_in(admin)
    bad = {**SETTINGS, "session_timeout_minutes": "0", "oidc_issuer": "", "oidc_match": "x"}
    response = client.post("/signin/settings/", bad)
    assert response.status_code == 200
    page = response.content.decode()
    assert "シングルサインオンを使う場合は入力してください。" in page
    assert not OrganisationSignIn.objects.exists()


def test_admin_unlocks_a_locked_account(personas, admin, settings, clock):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        password_step(Client(), "sender", "wrong password")
    assert "ロック" in password_step(Client(), "sender", personas.password).content.decode()

    client = logged_in(admin)
    page = client.get("/signin/locks/").content.decode()
    assert "ログイン制限の解除" in page and "契約 花子" in page
    response = client.post(f"/signin/locks/{personas.sender.pk}/unlock/", follow=True)
    assert "契約 花子さんのログイン制限を解除しました。" in response.content.decode()
    assert "ログインが制限されている職員はいません。" in response.content.decode()
    assert Event.objects.get(event="login.unlock").actor == admin

    assert password_step(Client(), "sender", personas.password).status_code == 302


def test_admin_of_another_organisation_cannot_unlock(personas, admin, settings):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        password_step(Client(), "sender", "wrong password")
    outsider = logged_in(personas.outsider)  # admin of よそ町
    assert "契約 花子" not in outsider.get("/signin/locks/").content.decode()
    assert outsider.post(f"/signin/locks/{personas.sender.pk}/unlock/").status_code == 404
    assert outsider.post(f"/signin/locks/{personas.sender.pk}/reset-totp/").status_code == 404
    assert services.is_locked(services.state_for(personas.sender))
