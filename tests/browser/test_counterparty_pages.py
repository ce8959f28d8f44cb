"""Issue 14 in a real browser, at desktop size and on a phone (390×844): the request mail and
every counterparty page state the signing deadline (at desktop size after the sender extended
it on the contract page: the link sent lives on) (in the era, as this city chose); the
access-code page shows nothing of the contract or its recipient before the code; every page
(access code, documents, confirmation, done) shows the department's contact block; no page
scrolls sideways; the hashes on the confirmation stay behind 詳細."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from keiyaku.accounts.services import contact_update, organisation_update_settings
from keiyaku.contracts import services
from keiyaku.contracts.timefmt import JST, deadline_text
from tests.browser.helpers import login, see
from tests.browser.screenshots import manual_screenshot
from tests.flow import External, draft_contract, last_link, mails_to

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    # What it examines (pages' text and layout) is the same on any database engine.
    pytest.mark.database_independent,
    pytest.mark.slow(seconds=8),
]

# A long address and a file name without a break opportunity: they must wrap, not widen the page.
FIRM = External(
    "株式会社髙橋建設",
    "髙橋 一郎",
    "takahashi.ichiro.keiyaku.tantou@takahashikensetsukabushikigaisha.example.jp",
    "4321",
)
LONG_NAME = "R8_koen_seibi_koji_ukeoi_keiyakusho_saishuban_20261201.pdf"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


def no_sideways_scroll(page) -> None:
    """Nothing is wider than the window. A phone's browser widens its layout viewport to the
    content (innerWidth grows with it), so the width is also held to the device's."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] and widths[0] <= page.viewport_size["width"], (page.url, widths)


def contact_shown(page) -> None:
    contact = page.locator("#contact")
    expect(contact).to_contain_text("土木課 管理係")
    expect(contact).to_contain_text("03-1234-5678")
    expect(contact).to_contain_text("平日 8:45〜17:30")


@pytest.mark.parametrize("size", SIZES)
def test_deadline_contact_and_a_discreet_code_page_at_every_size(browser, site, personas, size):
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist="",
        current_ip=None,
        deadline_wareki=True,
    )
    contact_update(
        owner=personas.contracts_dept,
        actor=personas.admin,
        department="土木課 管理係",
        person="契約 花子",
        phone="03-1234-5678",
        email="doboku-kanri@city.example.jp",
        hours="平日 8:45〜17:30",
    )
    contract = draft_contract(personas.sender, externals=[FIRM], documents=2)
    first = contract.documents.order_by("position").first()
    assert first is not None
    contract.documents.filter(pk=first.pk).update(filename=LONG_NAME)
    services.contract_send(contract=contract, actor=personas.sender)
    contract.refresh_from_db()
    assert contract.deadline is not None
    deadline = deadline_text(contract.deadline, era=True)
    assert deadline.startswith("令和")

    # The request mail: as the demo mailbox shows it once (the mail is the same at any size).
    link = site + last_link(FIRM.email)
    if size == "desktop":
        staff = browser.new_context(locale="ja-JP").new_page()
        login(staff, site, "sender", personas.password, wait=True)
        staff.goto(f"{site}/mailbox/")
        mail = staff.locator("article", has_text=FIRM.email).first
        expect(mail).to_contain_text(f"署名期限: {deadline}")
        expect(mail).to_contain_text("電話番号: 03-1234-5678")
        assert mail.locator("a").first.get_attribute("href") == link
        manual_screenshot(staff, "guide-mail", of=mail)
        # The sender extends the deadline on the contract page; the link sent follows it.
        staff.goto(f"{site}/contracts/{contract.pk}/")
        later = contract.deadline.astimezone(JST).date() + timedelta(days=10)
        staff.fill("#id_new_deadline", later.isoformat())
        staff.get_by_role("button", name="署名期限を変更する").click()
        see(staff, "署名期限を変更しました")
        contract.refresh_from_db()
        assert contract.deadline.astimezone(JST).date() == later
        deadline = deadline_text(contract.deadline, era=True)
        staff.context.close()
    else:
        assert f"署名期限: {deadline}" in mails_to(FIRM.email)[-1].body

    context = browser.new_context(locale="ja-JP", **SIZES[size])
    page = context.new_page()
    page.goto(link)
    expect(page.locator("h1")).to_have_text("アクセスコードの入力")
    body = page.locator("body")
    for secret in (contract.title, FIRM.company, FIRM.name, FIRM.email):
        expect(body).not_to_contain_text(secret)
    expect(body).to_contain_text("テスト市")
    expect(page.locator("#deadline")).to_contain_text(deadline)
    code = page.locator("#id_code")
    expect(code).to_have_attribute("inputmode", "numeric")
    expect(code).to_have_attribute("autocomplete", "one-time-code")
    contact_shown(page)
    no_sideways_scroll(page)
    if size == "phone":
        manual_screenshot(page, "guide-code", full_page=True)

    code.fill("0000")
    page.get_by_role("button", name="確認する").click()
    see(page, "あと4回誤るとロックされます")
    no_sideways_scroll(page)
    if size == "phone":
        manual_screenshot(page, "guide-code-wrong")
    page.fill("#id_code", FIRM.code)
    page.get_by_role("button", name="確認する").click()
    page.wait_for_url("**/documents/")
    expect(page.locator("h1")).to_have_text(contract.title)
    expect(page.locator("#deadline")).to_contain_text(deadline)
    contact_shown(page)
    page.locator(".pages img").first.wait_for()
    no_sideways_scroll(page)
    if size == "phone":
        manual_screenshot(page, "guide-documents")

    page.get_by_role("button", name="内容に同意する").click()
    see(page, "署名手続きの確認")
    hashes = page.locator("details.hashes")
    expect(hashes.locator("dd").first).to_be_hidden()
    expect(page.locator("#deadline")).to_contain_text(deadline)
    contact_shown(page)
    no_sideways_scroll(page)
    hashes.locator("summary").click()
    expect(hashes.locator("dd").first).to_be_visible()
    expect(hashes.locator("dd").first).to_contain_text("SHA-256")
    no_sideways_scroll(page)
    if size == "phone":
        manual_screenshot(page, "guide-confirm", full_page=True)

    page.get_by_role("button", name="署名手続きを完了する").click()
    see(page, "署名手続きが完了しました")
    contact_shown(page)
    no_sideways_scroll(page)
    if size == "phone":
        manual_screenshot(page, "guide-done", full_page=True)
    context.close()
