"""Login security in a real browser: an admin requires 2FA, a staff member enrols and logs in
with a TOTP code; single sign-on through a real OpenID provider."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from keiyaku.accounts.models import Role
from keiyaku.accounts.services import staff_create
from keiyaku.audit.services import SYSTEM
from keiyaku.login import totp
from keiyaku.login.services import PolicyValues, organisation_signin_update
from tests.browser.helpers import login, see
from tests.login.provider import Account, Provider, running_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class FakeClock:
    def __init__(self) -> None:
        self.current = timezone.now()

    def __call__(self):
        return self.current


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """The sign-in clock of the live server (a thread of this process), moved by the test."""
    fake = FakeClock()
    monkeypatch.setattr("keiyaku.login.clock.now", fake)
    return fake


@pytest.fixture
def admin(personas):
    return staff_create(
        organisation=personas.org,
        username="admin",
        password=personas.password,
        display_name="管理 太郎",
        email="admin@city.example.jp",
        roles=[Role.ADMIN],
    )


def test_admin_requires_2fa_staff_enrols_and_logs_in_with_a_code(
    browser, site, personas, admin, clock
):
    # The administrator turns two-factor authentication on for the organisation.
    page = browser.new_context(locale="ja-JP").new_page()
    login(page, site, "admin", personas.password)
    page.locator(".account-menu summary").click()
    page.get_by_role("link", name="ログイン設定").click()
    page.check("#id_totp_required")
    page.get_by_role("button", name="保存する").click()
    see(page, "ログイン設定を保存しました。")

    # A staff member: the password alone leads to the enrolment, nowhere else.
    staff = browser.new_context(locale="ja-JP").new_page()
    login(staff, site, "sender", personas.password)
    staff.wait_for_url("**/login/enrol/")
    see(staff, "この組織では2段階認証が必須です")
    staff.goto(f"{site}/")
    staff.wait_for_url("**/login/**")
    see(staff, "職員ログイン")
    login(staff, site, "sender", personas.password)
    staff.wait_for_url("**/login/enrol/")
    secret = staff.locator("#totp-secret").get_attribute("data-secret")
    assert secret and secret.replace(" ", "") in staff.locator("#totp-secret").inner_text().replace(
        " ", ""
    )
    assert staff.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
    staff.fill("#id_code", totp.totp(secret, clock().timestamp()))
    staff.get_by_role("button", name="設定する").click()
    staff.wait_for_url("**/recovery-codes/")
    expect(staff.locator("#recovery-codes li")).to_have_count(10)
    staff.get_by_role("link", name="保管しました。続ける").click()
    staff.wait_for_url(f"{site}/")
    see(staff, "案件一覧")
    staff.locator(".account-menu summary").click()
    staff.get_by_role("button", name="ログアウト").click()

    # The next login asks for the code from the app.
    clock.current += timedelta(seconds=30)
    login(staff, site, "sender", personas.password)
    staff.wait_for_url("**/login/verify/")
    staff.fill("#id_code", "000000")
    staff.get_by_role("button", name="確認する").click()
    see(staff, "確認コードが正しくありません。")
    staff.fill("#id_code", totp.totp(secret, clock().timestamp()))
    staff.get_by_role("button", name="確認する").click()
    staff.wait_for_url(f"{site}/")
    see(staff, "契約 花子")


@pytest.fixture
def browser_provider(site) -> Iterator[Provider]:
    with running_provider(
        client_id="keiyaku-browser",
        redirect_uris=[f"{site}/login/oidc/test-city/callback/"],
        accounts=[Account("sender", "idp-password-1", "sender@city.example.jp", "契約 花子")],
    ) as provider:
        yield provider


def test_single_sign_on_through_the_provider(
    browser, site, personas, admin, browser_provider, settings
):
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the provider listens on loopback
    organisation_signin_update(
        organisation=personas.org,
        actor=admin,
        values=PolicyValues(
            totp_required=False,
            session_timeout_minutes=60,
            oidc_enabled=True,
            oidc_issuer=browser_provider.issuer,
            oidc_client_id=browser_provider.client_id,
            oidc_client_secret=browser_provider.client_secret,
            oidc_match="email",
            oidc_create_users=False,
        ),
        meta=SYSTEM,
    )
    page = browser.new_context(locale="ja-JP").new_page()
    page.goto(f"{site}/login/")
    page.get_by_role("link", name="テスト市のアカウントでログイン").click()
    page.wait_for_url(f"{browser_provider.issuer}/interaction/**")
    page.fill("#login", "sender")
    page.fill("#password", "idp-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/")
    assert "案件一覧" in page.content() and "契約 花子" in page.content()
