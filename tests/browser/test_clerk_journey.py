"""Issue 14, the clerk: a rejected contract read on its page, duplicated, given new access codes,
previewed as a party, confirmed and sent again, at desktop size; the draft and the confirmation
at 390×844 do not scroll sideways."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

import keiyaku.fonts
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts import services
from keiyaku.contracts.models import Contract, ContractStatus
from keiyaku.contracts.services.boxes import box_create
from tests.browser.conftest import CHROMIUM
from tests.browser.helpers import login, mail_link, see
from tests.browser.screenshots import manual_screenshot
from tests.flow import External, draft_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FONTS = Path(keiyaku.fonts.__file__).parent


@pytest.fixture(scope="module")
def jp_browser(tmp_path_factory) -> Iterator[object]:
    """Chromium that draws Japanese in the shipped IPAex Gothic: the test machine has no
    Japanese font, and without one every character is a narrow placeholder box, so how wide
    the header is at 1280 px could not be seen."""
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("fontconfig")
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include><dir>{FONTS}</dir>'
        f"<cachedir>{folder}</cachedir></fontconfig>"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            env={**os.environ, "FONTCONFIG_FILE": str(config)},
        )
        yield browser
        browser.close()


A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")
BOX = {"page": 1, "x": 60, "width": 180, "height": 22, "kind": "text"}

# Every link, button and name in the header on one line: their vertical centres within a few px.
HEADER_ROWS = """() => {
  const items = document.querySelectorAll('header.site a, header.site button, header.site summary');
  const centres = [...items].filter(el => el.checkVisibility()).map(el => {
    const r = el.getBoundingClientRect(); return Math.round(r.top + r.height / 2);
  });
  return Math.max(...centres) - Math.min(...centres);
}"""
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
EMPTY_CARDS = (
    "() => [...document.querySelectorAll('.card')].filter(c => !c.innerText.trim()).length"
)


def _rejected(personas) -> Contract:
    contract = draft_contract(personas.sender, externals=[A, B], title="令和8年度 清掃業務委託契約")
    Contract.objects.filter(pk=contract.pk).update(amount=12_100_000)
    first, second = contract.parties.order_by("position")
    document = contract.documents.get()
    for party, y, label in ((first, 100, "住所"), (first, 140, "氏名"), (second, 200, "担当")):
        box_create(
            document=document,
            actor=personas.sender,
            data=BOX | {"y": y, "label": label, "party": party.pk},
        )
    services.contract_send(contract=contract, actor=personas.sender)
    services.party_reject(party=first, reason="金額違い", meta=RequestMeta(ip="203.0.113.5"))
    return contract


@pytest.mark.slow(seconds=20)
def test_duplicate_a_rejected_contract_confirm_and_send_it(jp_browser, site, personas):
    browser = jp_browser
    original = _rejected(personas)
    desk = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800})
    page = desk.new_page()
    login(page, site, "city-admin", personas.password, wait=True)  # the longest menu
    assert page.evaluate(HEADER_ROWS) <= 4  # the header does not wrap at 1280 px
    manual_screenshot(page, "staff-list")

    page.goto(f"{site}/contracts/{original.pk}/")
    expect(page.get_by_test_id("amount")).to_have_text("12,100,000 円")
    expect(page.get_by_test_id("period")).to_have_count(0)
    expect(page.get_by_test_id("party-status")).to_have_text(["却下", "依頼されていません"])
    manual_screenshot(
        page, "staff-duplicate", between=("h1", 'h2:has-text("署名者（署名順）") + table')
    )
    assert page.evaluate(HEADER_ROWS) <= 4

    page.get_by_role("button", name="複製して新しい下書きを作成").click()
    see(page, "複製して新しい下書きを作成しました")
    draft = Contract.objects.exclude(pk=original.pk).get()
    assert page.url.rstrip("/").endswith(str(draft.pk))
    assert page.evaluate(EMPTY_CARDS) == 0
    # The access codes were not copied: the sender sets new ones.
    for code in ("3141", "2718"):
        page.get_by_test_id("access-code-form").first.locator("input[name=access_code]").fill(code)
        page.get_by_test_id("access-code-form").first.get_by_role("button", name="設定").click()
        see(page, "アクセスコードを設定しました")
    expect(page.get_by_test_id("access-code-form")).to_have_count(0)

    # What the first party will see: its two boxes over the page, nothing to press.
    page.get_by_test_id("party-preview").first.click()
    see(page, "様に表示される画面のプレビューです")
    expect(page.locator(".kpage-sign.placed .kbox-input")).to_have_count(2)
    expect(page.locator(".kpage-sign.placed .kbox-other")).to_have_count(1)
    expect(page.get_by_role("button", name="内容に同意する")).to_be_disabled()
    manual_screenshot(page, "staff-preview")
    page.get_by_role("link", name="案件に戻る").click()

    page.get_by_role("button", name="送信内容を確認する").click()
    page.wait_for_url("**/send/confirm/**")
    rows = page.get_by_test_id("confirm-party")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(A.email)
    expect(rows.nth(0)).to_contain_text("2 件")
    expect(rows.nth(1)).to_contain_text(B.email)
    expect(rows.nth(1)).to_contain_text("1 件")
    expect(page.get_by_test_id("confirm-deadline")).to_contain_text("23:59")
    manual_screenshot(page, "staff-send-confirm", full_page=True)
    confirm_url = page.url

    # A staff member on a phone: the draft and the confirmation fit the screen.
    phone = browser.new_context(
        locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True
    ).new_page()
    login(phone, site, "sender", personas.password, wait=True)
    for url in (f"{site}/contracts/{draft.pk}/", confirm_url):
        phone.goto(url)
        assert phone.evaluate(SIDEWAYS) <= 0, url
    phone.context.close()

    page.get_by_role("button", name="署名依頼を送信する").click()
    see(page, "署名依頼を送信しました")
    draft.refresh_from_db()
    assert draft.status == ContractStatus.IN_PROGRESS

    # The first party's new request opens with its new code.
    party = desk.new_page()
    party.goto(mail_link(page, site, A.email, "署名依頼"))
    party.fill("#id_code", "3141")
    party.get_by_role("button", name="確認する").click()
    party.wait_for_url("**/documents/")
    desk.close()
