"""TOTP two-factor (R37): enforced per organisation, enrolment, codes, recovery codes."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM
from keiyaku.login import services, totp
from keiyaku.login.services import PolicyValues, organisation_signin_update
from tests.login.helpers import code_for, password_step, recovery_codes_on_page, secret_on_page


def require_totp(personas, admin, required: bool = True) -> None:
    organisation_signin_update(
        organisation=personas.org,
        actor=admin,
        values=PolicyValues(
            totp_required=required,
            session_timeout_minutes=60,
            oidc_enabled=False,
            oidc_issuer="",
            oidc_client_id="",
            oidc_match="email",
            oidc_create_users=False,
        ),
        meta=SYSTEM,
    )


def enrol(client: Client, personas, clock) -> tuple[str, list[str]]:
    """Password, then the enrolment the organisation requires; returns secret and codes."""
    response = password_step(client, "sender", personas.password)
    assert response["Location"] == "/login/enrol/"
    page = client.get("/login/enrol/").content.decode()
    secret = secret_on_page(page)
    assert f"secret={secret}" in page  # the otpauth:// URI, for apps that take it
    assert '<img id="totp-qr" src="data:image/svg+xml' in page  # the same URI as a QR code
    response = client.post("/login/enrol/", {"code": code_for(secret, clock())})
    assert response["Location"] == "/account/security/recovery-codes/"
    codes = recovery_codes_on_page(client.get(response["Location"]).content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


def test_enforced_organisation_refuses_a_login_without_the_code(personas, admin, clock):
    require_totp(personas, admin)
    client = Client()
    response = password_step(client, "sender", personas.password)
    assert response.status_code == 302 and response["Location"] == "/login/enrol/"
    # The password alone reaches nothing: every page sends the user back to the login.
    for url in ["/", "/contracts/new/", "/account/security/", "/signin/settings/"]:
        response = client.get(url)
        assert response.status_code in (302, 404)
        assert response.status_code == 404 or response["Location"].startswith("/login/")
    assert not Event.objects.filter(event="login.success").exists()


def test_enrolment_then_login_with_a_code(personas, admin, clock):
    require_totp(personas, admin)
    client = Client()
    secret, _codes = enrol(client, personas, clock)
    assert client.get("/").status_code == 200
    assert services.state_for(personas.sender).has_totp
    # The secret is kept sealed, not as it is.
    assert secret not in services.state_for(personas.sender).totp_secret_sealed

    client = Client()
    response = password_step(client, "sender", personas.password)
    assert response["Location"] == "/login/verify/"
    assert client.get("/").status_code == 302
    clock.advance(seconds=30)
    response = client.post("/login/verify/", {"code": code_for(secret, clock())})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    methods = [e.detail["method"] for e in Event.objects.filter(event="login.success")]
    assert methods == ["totp", "totp"]


def test_a_code_is_accepted_once(personas, admin, clock):
    require_totp(personas, admin)
    secret, _codes = enrol(Client(), personas, clock)
    clock.advance(seconds=30)
    code = code_for(secret, clock())
    first = Client()
    password_step(first, "sender", personas.password)
    assert first.post("/login/verify/", {"code": code})["Location"] == "/"
    second = Client()
    password_step(second, "sender", personas.password)
    response = second.post("/login/verify/", {"code": code})
    assert response.status_code == 200
    assert "確認コードが正しくありません。" in response.content.decode()


def test_wrong_enrolment_code_is_refused(personas, admin, clock):
    require_totp(personas, admin)
    client = Client()
    password_step(client, "sender", personas.password)
    client.get("/login/enrol/")
    response = client.post("/login/enrol/", {"code": "000000"})
    assert "確認コードが正しくありません" in response.content.decode()
    assert client.get("/").status_code == 302
    response = client.post("/login/enrol/", {"code": ""})
    assert "確認コードを入力してください。" in response.content.decode()


def test_recovery_codes_work_once(personas, admin, clock):
    require_totp(personas, admin)
    _secret, codes = enrol(Client(), personas, clock)

    client = Client()
    password_step(client, "sender", personas.password)
    response = client.post("/login/verify/", {"code": codes[0].upper()})
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert Event.objects.filter(event="login.recovery_code").get().detail == {"left": 9}

    again = Client()
    password_step(again, "sender", personas.password)
    response = again.post("/login/verify/", {"code": codes[0]})
    assert "確認コードが正しくありません。" in response.content.decode()
    assert again.get("/").status_code == 302
    assert again.post("/login/verify/", {"code": codes[1]})["Location"] == "/"


def test_wrong_codes_count_towards_the_lockout(personas, admin, clock, settings):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 3
    require_totp(personas, admin)
    secret, _codes = enrol(Client(), personas, clock)
    client = Client()
    password_step(client, "sender", personas.password)
    client.post("/login/verify/", {"code": "000000"})
    client.post("/login/verify/", {"code": "000001"})
    response = client.post("/login/verify/", {"code": "000002"}, follow=True)
    assert "このアカウントは一時的にロックされています" in response.content.decode()
    clock.advance(seconds=30)
    response = password_step(client, "sender", personas.password)
    assert "ロック" in response.content.decode()
    assert client.get("/login/verify/").status_code == 302


def test_second_step_expires(personas, admin, clock, settings):
    require_totp(personas, admin)
    secret, _codes = enrol(Client(), personas, clock)
    client = Client()
    password_step(client, "sender", personas.password)
    clock.advance(seconds=settings.KEIYAKU_LOGIN_PENDING_SECONDS + 1)
    response = client.post("/login/verify/", {"code": code_for(secret, clock())}, follow=True)
    assert "ログインの有効時間が過ぎました" in response.content.decode()
    assert not response.context["user"].is_authenticated


def test_sessions_from_before_enforcement_must_log_in_again(personas, admin, clock):
    client = Client()
    password_step(client, "sender", personas.password)
    assert client.get("/").status_code == 200
    require_totp(personas, admin)
    response = client.get("/", follow=True)
    assert "この組織では2段階認証が必須です" in response.content.decode()
    assert not response.context["user"].is_authenticated


def test_voluntary_enrolment_without_enforcement(personas, clock):
    client = Client()
    password_step(client, "sender", personas.password)
    page = client.get("/account/security/").content.decode()
    assert "2段階認証は設定されていません。" in page
    secret = secret_on_page(client.get("/account/security/totp/").content.decode())
    response = client.post("/account/security/totp/", {"code": code_for(secret, clock())})
    assert response["Location"] == "/account/security/recovery-codes/"
    assert len(recovery_codes_on_page(client.get(response["Location"]).content.decode())) == 10
    assert "未使用の回復コード: 10個" in client.get("/account/security/").content.decode()

    # Next login asks for the code even though the organisation does not require it.
    other = Client()
    assert password_step(other, "sender", personas.password)["Location"] == "/login/verify/"

    # Removing it takes a current code.
    clock.advance(seconds=60)
    response = client.post(
        "/account/security/totp/remove/", {"code": code_for(secret, clock())}, follow=True
    )
    assert "2段階認証を解除しました。" in response.content.decode()
    assert not services.state_for(personas.sender).has_totp


@pytest.mark.parametrize("code", ["", "x" * 30, "12345", "<script>"])
def test_bad_input_on_the_second_step_is_a_message(personas, admin, clock, code):
    require_totp(personas, admin)
    secret, _codes = enrol(Client(), personas, clock)
    client = Client()
    password_step(client, "sender", personas.password)
    response = client.post("/login/verify/", {"code": code})
    assert response.status_code == 200
    assert "確認コード" in response.content.decode()


def test_totp_module_is_what_the_app_checks(personas, clock):
    """The enrolment accepts what any RFC 6238 app shows (pyotp-compatible parameters)."""
    secret = totp.random_secret()
    assert totp.verify(secret, totp.totp(secret, clock().timestamp()), clock().timestamp())


def test_admin_resets_the_second_factor_of_a_locked_out_member(personas, admin, clock, settings):
    """Lost phone and recovery codes: the admin resets, the member enrols again."""
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 2
    require_totp(personas, admin)
    enrol(Client(), personas, clock)
    client = Client()
    password_step(client, "sender", personas.password)
    client.post("/login/verify/", {"code": "000000"})
    client.post("/login/verify/", {"code": "000000"})

    admin_client = Client()
    admin_client.force_login(admin)
    session = admin_client.session
    session["signin.mfa"] = "totp"  # the admin passed their own second factor
    session.save()
    page = admin_client.get("/signin/locks/").content.decode()
    assert 'id="totp-staff"' in page and "契約 花子" in page
    response = admin_client.post(f"/signin/locks/{personas.sender.pk}/reset-totp/", follow=True)
    assert "契約 花子さんの2段階認証をリセットしました。" in response.content.decode()
    admin_client.post(f"/signin/locks/{personas.sender.pk}/unlock/")
    assert not services.state_for(personas.sender).has_totp
    assert Event.objects.get(event="totp.remove").actor == admin
    # The next login goes to the enrolment again.
    assert password_step(Client(), "sender", personas.password)["Location"] == "/login/enrol/"


def test_successful_code_steps_do_not_count_towards_the_rate_limit(
    personas, admin, clock, settings
):
    """Issue 14: only failures count; a login with a code is two steps, both given back."""
    settings.KEIYAKU_LOGIN_RATE_WINDOW_SECONDS = 3600  # every login below in one window
    require_totp(personas, admin)
    secret, _codes = enrol(Client(), personas, clock)
    for _ in range(settings.KEIYAKU_LOGIN_RATE_PER_LOGIN_ID + 1):
        clock.advance(seconds=30)  # a code is accepted once
        client = Client()
        assert password_step(client, "sender", personas.password)["Location"] == "/login/verify/"
        response = client.post("/login/verify/", {"code": code_for(secret, clock())})
        assert response.status_code == 302 and response["Location"] == "/"
