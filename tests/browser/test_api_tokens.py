"""An organisation admin makes an API token in a real browser, sees it once, uses it, and
revokes it (R40); the screen's help link opens the manual's section on API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from keiyaku.api.models import ApiToken
from tests.api.conftest import Api
from tests.browser.helpers import login, see
from tests.browser.screenshots import manual_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP"}


def test_admin_makes_a_token_sees_it_once_and_revokes_it(browser, site, personas):
    context = browser.new_context(**DESK)
    page = context.new_page()
    login(page, site, "city-admin", personas.password, wait=True)
    page.get_by_role("link", name="管理", exact=True).click()
    page.get_by_role("link", name="APIトークン", exact=True).click()
    see(page, "APIトークンはありません。")

    page.fill("#id_name", "文書管理システム")
    page.select_option("#id_scope", "read")
    page.select_option("#id_acting", str(personas.sender.pk))
    page.fill("#id_expires_on", (timezone.localdate() + timedelta(days=30)).isoformat())
    page.get_by_role("button", name="作成する").click()
    see(page, "このトークンは今だけ表示されます。")
    secret = page.locator("#api-token-secret code").inner_text().strip()
    assert secret.startswith("kyk_")
    row = page.locator("#api-token-table tbody tr").filter(has_text="文書管理システム")
    expect(row).to_contain_text("有効")
    expect(row).to_contain_text("契約 花子")
    manual_screenshot(page, "staff-api-token", full_page=True)

    # The token works, as the member it acts for; reopening the screen never shows it again.
    assert Api(secret).get("/contracts").status_code == 200
    page.get_by_role("link", name="APIトークン", exact=True).click()
    expect(page.locator("#api-token-table")).to_contain_text(secret[:12])
    assert secret not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    row = page.locator("#api-token-table tbody tr").filter(has_text="文書管理システム")
    row.get_by_role("button", name="無効にする").click()
    see(page, "APIトークンを無効にしました。")
    row = page.locator("#api-token-table tbody tr").filter(has_text="文書管理システム")
    expect(row).to_contain_text("無効")
    expect(row.get_by_role("button", name="無効にする")).to_have_count(0)
    refused = Api(secret).get("/contracts")
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert ApiToken.objects.get().revoked_by == personas.admin

    # The help link opens the manual where the screen is explained.
    help_link = page.locator("a[href*='/help/staff/#api']")
    expect(help_link.first).to_be_visible()
    help_link.first.click()
    see(page, "APIトークン（他のシステムからの操作）")
    context.close()
