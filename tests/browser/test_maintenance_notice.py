"""Maintenance notices in a real browser (issue 14): the operator posts one, a counterparty on a
phone (390×844) and a member of staff at a desk see it, and nobody sees it once it has ended."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from keiyaku.accounts.models import Staff
from keiyaku.contracts import services
from tests.browser.helpers import login, see
from tests.flow import External, draft_contract, last_link, mails_to

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow(seconds=15),
]

JST = ZoneInfo("Asia/Tokyo")
PARTY = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "4321")
TEXT = "システム更新のため、keiyaku を停止します。署名はこの時間を避けてください。"


def test_the_operator_posts_a_notice_staff_and_a_counterparty_see_it_until_it_ends(
    browser, site, personas
):
    Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", personas.password)
    contract = draft_contract(personas.sender, externals=[PARTY])
    services.contract_send(contract=contract, actor=personas.sender)
    link = site + last_link(PARTY.email)
    # Soon, and short: the clock moved past its end stays within the sign-in's idle hour.
    starts = (datetime.now(JST) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    ends = starts + timedelta(minutes=30)

    desk = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    login(page, site, "operator", personas.password, wait=True)
    page.goto(f"{site}/operator/status/")
    page.get_by_role("link", name="メンテナンスのお知らせを掲載する").click()
    page.fill("#id_starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_ends_at", ends.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_text", TEXT)
    page.get_by_role("button", name="掲載してメールで知らせる").click()
    see(page, "お知らせを掲載し、各団体の管理者にメールで知らせました。")
    assert [m.subject for m in mails_to(personas.admin.email)] == [
        f"【keiyaku】メンテナンスのお知らせ（{starts:%Y年%-m月%-d日 %H:%M}から）"
    ]
    desk.clear_cookies()

    # A member of staff, at a desk.
    window = f"{starts:%Y年%-m月%-d日}"
    login(page, site, "sender", personas.password, wait=True)
    banner = page.locator("#maintenance-notices")
    expect(banner).to_contain_text(TEXT)
    expect(banner).to_contain_text(window)
    expect(page.locator("main > #maintenance-notices")).to_be_visible()

    # A counterparty, on a phone: the page that asks for the access code, then the documents.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, locale="ja-JP"
    )
    counterparty = phone.new_page()
    counterparty.goto(link)
    expect(counterparty.locator("#maintenance-notices")).to_contain_text(TEXT)
    counterparty.fill("#id_code", PARTY.code)
    counterparty.get_by_role("button", name="確認する").click()
    counterparty.wait_for_url("**/documents/")
    notice = counterparty.locator("#maintenance-notices")
    expect(notice).to_contain_text(window)
    box = notice.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert counterparty.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), "the page scrolls sideways on a phone"

    # A minute after the end: gone from both.
    with time_machine.travel(ends + timedelta(minutes=1), tick=True):
        page.reload()
        see(page, "案件一覧")
        expect(page.locator("#maintenance-notices")).to_have_count(0)
        counterparty.reload()
        expect(counterparty.locator("header.site")).to_be_visible()
        expect(counterparty.locator("#maintenance-notices")).to_have_count(0)
    desk.close()
    phone.close()
