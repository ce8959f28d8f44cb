"""Password login: policy, lockout (and its release by an admin or by time), audit, rate limit."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from keiyaku.audit.models import Event
from tests.login.helpers import password_step


def events(name: str) -> list[Event]:
    return list(Event.objects.filter(event=name))


def test_login_with_id_and_password_reaches_the_contract_list(personas):
    client = Client()
    response = password_step(client, "sender", personas.password)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    (success,) = events("login.success")
    assert success.actor == personas.sender and success.detail == {"method": "password"}
    assert success.ip == "127.0.0.1"


def test_wrong_password_is_refused_in_japanese_and_recorded(personas):
    client = Client()
    response = password_step(client, "sender", "wrong password")
    assert response.status_code == 200
    assert "ログインIDまたはパスワードが正しくありません。" in response.content.decode()
    assert client.get("/").status_code == 302
    (failure,) = events("login.failure")
    assert failure.actor == personas.sender and failure.detail["reason"] == "password"


def test_unknown_login_id_gets_the_same_message(db):
    response = password_step(Client(), "nobody", "whatever it is")
    assert "ログインIDまたはパスワードが正しくありません。" in response.content.decode()
    (failure,) = events("login.failure")
    assert failure.actor is None and failure.actor_label == "nobody"


def test_next_is_followed_only_within_the_site(personas):
    response = password_step(Client(), "sender", personas.password, next_url="/verify/")
    assert response["Location"] == "/verify/"
    response = password_step(
        Client(), "sender", personas.password, next_url="https://evil.example/"
    )
    assert response["Location"] == "/"


def test_empty_form_is_refused_without_error(db):
    response = Client().post("/login/", {})
    assert response.status_code == 200
    assert "ログインIDまたはパスワードが正しくありません。" in response.content.decode()


def test_password_policy(personas):
    staff = personas.sender
    for weak in ["short1", "1234567890123", "password1234", "sender2026x"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user=staff)
    validate_password("kawa-no-nagare-2026", user=staff)


def lock_out(personas, client: Client, settings, times: int) -> str:
    page = ""
    for _ in range(times):
        page = password_step(client, "sender", "wrong password").content.decode()
    return page


def test_lockout_after_the_configured_failures_refuses_the_right_password(
    personas, settings, clock
):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 3
    client = Client()
    page = lock_out(personas, client, settings, 2)
    assert "ロック" not in page
    page = lock_out(personas, client, settings, 1)
    assert "このアカウントは一時的にロックされています" in page
    assert len(events("login.locked")) == 1

    response = password_step(client, "sender", personas.password)
    assert "このアカウントは一時的にロックされています" in response.content.decode()
    assert client.get("/").status_code == 302
    assert events("login.failure")[-1].detail == {"reason": "locked"}


def test_lock_ends_by_itself_after_the_delay(personas, settings, clock):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 3
    settings.KEIYAKU_LOGIN_LOCK_MINUTES = 30
    client = Client()
    lock_out(personas, client, settings, 3)
    clock.advance(minutes=29)
    assert "ロック" in password_step(client, "sender", personas.password).content.decode()
    clock.advance(minutes=2)
    response = password_step(client, "sender", personas.password)
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_failures_count_afresh_after_a_lock_ran_out(personas, settings, clock):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 3
    client = Client()
    lock_out(personas, client, settings, 3)
    clock.advance(minutes=31)
    page = lock_out(personas, client, settings, 1)
    assert "ロック" not in page  # one failure after the lock is not a new lock


def test_success_resets_the_count(personas, settings, clock):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 3
    client = Client()
    lock_out(personas, client, settings, 2)
    assert password_step(client, "sender", personas.password).status_code == 302
    page = lock_out(personas, Client(), settings, 2)
    assert "ロック" not in page


def test_rate_limit_per_login_id_answers_429_in_japanese(personas, settings):
    settings.KEIYAKU_LOGIN_RATE_PER_LOGIN_ID = 3
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 100
    client = Client()
    for _ in range(3):
        assert password_step(client, "sender", "wrong").status_code == 200
    response = password_step(client, "sender", personas.password)
    assert response.status_code == 429
    assert "短時間にログインの試行が多すぎます" in response.content.decode()
    # Another login ID from another address is not affected.
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert password_step(other, "mayor", personas.password).status_code == 302


def test_rate_limit_per_address(personas, settings, clock):
    settings.KEIYAKU_LOGIN_RATE_PER_IP = 4
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 100
    client = Client()
    for name in ["a1", "a2", "a3", "a4"]:
        password_step(client, name, "wrong")
    assert password_step(client, "sender", personas.password).status_code == 429
    clock.advance(seconds=settings.KEIYAKU_LOGIN_RATE_WINDOW_SECONDS + 1)
    assert password_step(client, "sender", personas.password).status_code == 302


def test_idle_session_times_out_by_the_organisations_setting(personas, admin, clock):
    from keiyaku.audit.services import SYSTEM
    from keiyaku.login.services import PolicyValues, organisation_signin_update

    organisation_signin_update(
        organisation=personas.org,
        actor=admin,
        values=PolicyValues(
            totp_required=False,
            session_timeout_minutes=15,
            oidc_enabled=False,
            oidc_issuer="",
            oidc_client_id="",
            oidc_match="email",
            oidc_create_users=False,
        ),
        meta=SYSTEM,
    )
    client = Client()
    password_step(client, "sender", personas.password)
    clock.advance(minutes=14)
    assert client.get("/").status_code == 200
    clock.advance(minutes=14)
    assert client.get("/").status_code == 200  # activity keeps the session alive
    clock.advance(minutes=16)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    page = client.get(response["Location"]).content.decode()
    assert "一定時間操作がなかったため、ログアウトしました" in page


@pytest.mark.slow(seconds=4)
def test_twenty_successful_logins_in_a_row_are_all_let_in_and_failures_still_limited(
    personas, settings
):
    """Issue 14: only failures count towards the login rate limit (defaults: 10 per login ID
    and 30 per address in 5 minutes)."""
    settings.KEIYAKU_LOGIN_MAX_FAILURES = 100
    for _ in range(20):
        client = Client()
        assert password_step(client, "sender", personas.password).status_code == 302
        assert client.get("/").status_code == 200
    client = Client()
    allowed = settings.KEIYAKU_LOGIN_RATE_PER_LOGIN_ID
    for _ in range(allowed):
        assert password_step(client, "sender", "wrong").status_code == 200
    assert password_step(client, "sender", personas.password).status_code == 429
