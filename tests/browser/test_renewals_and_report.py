"""Renewal alerts' list (R31) and the monthly report (R33) in Chromium at desktop size: the
term entered on the contract page (a wrong notice deadline refused in Japanese), the contract in
「更新・終了が近い契約」 with its link, and the report's server-drawn chart and CSV download."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from keiyaku.contracts import services
from tests.browser.helpers import login, see
from tests.flow import agree, draft_contract, last_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.slow(seconds=15)
def test_term_renewal_list_and_monthly_report(browser, site, personas):
    contract = draft_contract(personas.sender, staff_signers=[personas.mayor], title="庁舎清掃業務")
    services.contract_send(contract=contract, actor=personas.sender)
    mayor = Client()
    mayor.force_login(personas.mayor)
    # In a thread of its own: signing runs asyncio, which must not meet Playwright's loop here.
    signing = threading.Thread(target=agree, args=(mayor, last_link(personas.mayor.email)))
    signing.start()
    signing.join()
    contract.refresh_from_db()
    assert contract.is_concluded
    today = timezone.localdate()
    end, notice = today + timedelta(days=20), today + timedelta(days=10)

    page = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800}).new_page()
    login(page, site, "sender", personas.password, wait=True)
    page.goto(f"{site}/contracts/{contract.pk}/")
    page.get_by_text("契約期間・更新を変更する").click()
    form = page.locator("#term-form")
    form.get_by_label("契約期間（終了）").fill(end.isoformat())
    form.get_by_label("更新拒絶の通知期限（自動更新ありの場合）").fill(notice.isoformat())
    form.get_by_role("button", name="保存する").click()
    see(page, "更新拒絶の通知期限は、自動更新ありの契約にだけ入力できます。")
    form = page.locator("#term-form")
    form.get_by_role("checkbox", name="自動更新あり").check()
    form.get_by_role("button", name="保存する").click()
    see(page, "契約期間・更新を保存しました。")
    expect(page.get_by_test_id("notice-deadline")).to_contain_text(notice.isoformat())

    page.get_by_role("link", name="案件一覧").first.click()
    page.locator("#list-tools").get_by_role("link", name="更新・終了が近い契約").click()
    page.locator("#id_days").select_option("30")
    page.get_by_role("button", name="表示する").click()
    rows = page.locator("#renewals tbody tr")
    expect(rows).to_have_count(2)  # the notice deadline first, then the period end
    expect(rows.nth(0)).to_contain_text("更新拒絶の通知期限")
    expect(rows.nth(0)).to_contain_text("10日")
    expect(rows.nth(1)).to_contain_text("契約期間の終了")
    page.locator("#id_days").select_option("60")
    page.get_by_role("button", name="表示する").click()
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("link", name="庁舎清掃業務").click()
    expect(page).to_have_url(f"{site}/contracts/{contract.pk}/")

    page.get_by_role("link", name="案件一覧").first.click()
    page.locator("#list-tools").get_by_role("link", name="月次報告").click()
    chart = page.locator("#report-chart svg.bar-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(12 * 3)  # twelve months × three kinds
    this_month = f"{today:%Y-%m}"
    totals = page.locator("#report-totals tbody tr", has_text=this_month)
    expect(totals.locator("td").nth(1)).to_have_text("1")  # sent
    expect(totals.locator("td").nth(2)).to_have_text("1")  # concluded
    with page.expect_download() as download:
        page.get_by_role("link", name="CSVでダウンロード").click()
    data = download.value.path().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("月,所属,送信,締結")
    assert f"{this_month},契約課,1,1," in text
    # A wrong month is said in Japanese, not a server error.
    page.locator("#id_first").evaluate("el => { el.type = 'text'; el.value = '2026-13'; }")
    page.get_by_role("button", name="表示する").click()
    see(page, "月は「2026-04」の形で入力してください。")
