"""Passwords tried in parallel (R37): counting a failure and locking are one step.

Real requests at once against a real server process, each browser with its own cookies and,
behind the trusted proxy, its own address. The per-login-ID rate limit lets exactly its number
through, exactly KEIYAKU_LOGIN_MAX_FAILURES failures are counted, and a locked account refuses
even the right password.
"""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM
from keiyaku.login import services
from keiyaku.login.models import StaffSignIn
from keiyaku.ratelimits.models import RateCounter
from tests.login.helpers import password_step
from tests.web_process import Browser, post_all_at_once, web_process

pytestmark = pytest.mark.django_db(transaction=True)

MAX_FAILURES = 5
SERVER = {
    "KEIYAKU_TRUSTED_PROXIES": "127.0.0.1",
    "KEIYAKU_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
    "KEIYAKU_LOGIN_RATE_PER_IP": "30",
    "KEIYAKU_LOGIN_RATE_PER_LOGIN_ID": "10",
}
# Without the per-login-ID limit in the way: the lockout alone.
LOCKOUT_ONLY = {**SERVER, "KEIYAKU_LOGIN_RATE_PER_LOGIN_ID": "1000"}


def browsers(url: str, count: int, first: int = 0) -> list[Browser]:
    """Browsers from addresses of their own, each shown the login form."""
    shown = [Browser(url, address=f"203.0.113.{first + n + 1}") for n in range(count)]
    for browser in shown:
        assert browser.get("/login/").status == 200
    return shown


def wrong_passwords_at_once(url: str, count: int) -> list[int]:
    form = {"username": "sender", "password": "wrong password"}
    answers = post_all_at_once([(b, "/login/", form) for b in browsers(url, count)])
    return [answer.status for answer in answers]


def counted_failures() -> int:
    return sum(
        1 for e in Event.objects.filter(event="login.failure") if e.detail["reason"] == "password"
    )


def logged_in(browser: Browser) -> bool:
    return browser.get("/").status == 200


@pytest.mark.slow
def test_thirty_parallel_wrong_passwords_pass_the_login_id_limit_ten_times_and_count_five(
    personas,
):
    with web_process(**SERVER) as url:
        statuses = wrong_passwords_at_once(url, 30)

    assert statuses.count(429) == 20 and statuses.count(200) == 10
    assert RateCounter.objects.get(key="login-id:sender").count == 10
    state = StaffSignIn.objects.get(staff=personas.sender)
    assert state.locked_at is not None and state.failed_attempts == MAX_FAILURES
    assert counted_failures() == MAX_FAILURES
    assert Event.objects.filter(event="login.locked").count() == 1


@pytest.mark.slow
def test_the_right_password_sent_among_wrong_ones_is_refused_once_the_account_is_locked(
    personas,
):
    with web_process(**LOCKOUT_ONLY) as url:
        assert set(wrong_passwords_at_once(url, 30)) == {200}
        state = StaffSignIn.objects.get(staff=personas.sender)
        assert state.locked_at is not None and state.failed_attempts == MAX_FAILURES
        locked_at = state.locked_at

        sent = browsers(url, 13, first=100)
        passwords = [personas.password] + ["wrong password"] * 12
        answers = post_all_at_once(
            [
                (browser, "/login/", {"username": "sender", "password": password})
                for browser, password in zip(sent, passwords, strict=True)
            ]
        )
        assert [answer.status for answer in answers] == [200] * 13
        assert "このアカウントは一時的にロックされています" in answers[0].body
        assert not any(logged_in(browser) for browser in sent)

    state = StaffSignIn.objects.get(staff=personas.sender)
    assert state.locked_at == locked_at and state.failed_attempts == MAX_FAILURES
    assert counted_failures() == MAX_FAILURES
    assert Event.objects.filter(event="login.locked").count() == 1
    assert not Event.objects.filter(event="login.success").exists()


# The same race without a server: the lock check before the password passed, then parallel
# failures locked the account while the password was being checked.


def lock_out(staff) -> None:
    for _ in range(MAX_FAILURES):
        services.login_failure_record(
            staff=staff, login_id=staff.username, reason="password", meta=SYSTEM
        )


def test_the_right_password_is_refused_when_the_account_was_locked_after_the_check(
    personas, settings, monkeypatch
):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = MAX_FAILURES
    checked_before_the_lock = services.login_check_not_locked
    monkeypatch.setattr(
        services,
        "login_check_not_locked",
        lambda **kwargs: (checked_before_the_lock(**kwargs), lock_out(personas.sender)),
    )
    client = Client()
    response = password_step(client, "sender", personas.password)
    assert client.get("/").status_code == 302
    assert response.status_code in {200, 302}
    state = StaffSignIn.objects.get(staff=personas.sender)
    assert state.locked_at is not None and state.failed_attempts == MAX_FAILURES
    assert not Event.objects.filter(event="login.success").exists()


def test_failures_of_a_locked_account_are_not_counted(personas, settings):
    settings.KEIYAKU_LOGIN_MAX_FAILURES = MAX_FAILURES
    lock_out(personas.sender)
    lock_out(personas.sender)
    state = StaffSignIn.objects.get(staff=personas.sender)
    assert state.failed_attempts == MAX_FAILURES
    assert counted_failures() == MAX_FAILURES
    assert Event.objects.filter(event="login.locked").count() == 1
