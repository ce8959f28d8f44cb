"""Staff page through the contract list in a real browser at desktop size (issue 12)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from keiyaku.contracts import services
from tests.browser.helpers import login, see
from tests.contract_copies import copies
from tests.flow import External, draft_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")


def test_staff_pages_forward_and_back_through_the_list(browser, site, personas, settings):
    settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE = 3
    contract = draft_contract(personas.sender, externals=[FIRM], title="令和8年度 道路補修工事")
    services.contract_send(contract=contract, actor=personas.sender)
    copies(contract, 6)  # 7 contracts: pages of 3, 3 and 1

    page = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800}).new_page()
    login(page, site, "sender", personas.password, wait=True)
    see(page, "案件一覧")
    rows = page.locator("tbody tr")
    nav = page.get_by_role("navigation", name="ページ送り")

    def titles() -> list[str]:
        return rows.locator("td:first-child a").all_inner_texts()

    expect(rows).to_have_count(3)
    expect(nav.get_by_role("link", name="前へ")).to_have_count(0)
    first = titles()
    assert all(FIRM.name in text for text in rows.locator("td:nth-child(5)").all_inner_texts())

    nav.get_by_role("link", name="次へ").click()
    expect(rows.locator("td:first-child a").first).not_to_have_text(first[0])
    expect(rows).to_have_count(3)
    second = titles()
    nav.get_by_role("link", name="次へ").click()
    expect(rows).to_have_count(1)
    third = titles()
    expect(nav.get_by_role("link", name="次へ")).to_have_count(0)

    every = first + second + third
    assert len(set(every)) == 7 and "令和8年度 道路補修工事" in every

    # Retrying assertions: each waits for the page the click opened.
    links = rows.locator("td:first-child a")
    nav.get_by_role("link", name="前へ").click()
    expect(links).to_have_text(second)
    nav.get_by_role("link", name="前へ").click()
    expect(links).to_have_text(first)
    expect(nav.get_by_role("link", name="前へ")).to_have_count(0)

    # A desktop window shows the table and its links without scrolling sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(nav.get_by_role("link", name="次へ")).to_be_in_viewport()
