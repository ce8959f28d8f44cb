"""Issue 14, acceptance 1 (forwarding), in Chromium at desktop size and on a phone (390×844):
a counterparty forwards its request with a message; the new signer opens the link of the mail
it got, sees the message, the forwarder's name and whom to ask for the access code, enters
the code and signs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from keiyaku.contracts import services
from keiyaku.contracts.models import Contract
from tests.browser.helpers import see
from tests.browser.test_counterparty_pages import SIZES, no_sideways_scroll
from tests.flow import External, draft_contract, last_link, mails_to

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.database_independent,
    pytest.mark.slow(seconds=8),
]

FIRM = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2468")
NEW_EMAIL = "kimura@sato.example.jp"
MESSAGE = "担当が木村に変わりました。\n<b>署名</b>をお願いします。"
ASK = "アクセスコードは、転送元の 佐藤工業株式会社 佐藤 次郎 様にお問い合わせください。"


@pytest.mark.parametrize("size", SIZES)
def test_forward_with_a_message_and_the_new_signer_signs(browser, site, personas, size):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    context = browser.new_context(locale="ja-JP", **SIZES[size])

    # The counterparty forwards, with a message.
    page = context.new_page()
    page.goto(site + last_link(FIRM.email))
    page.fill("#id_code", FIRM.code)
    page.get_by_role("button", name="確認する").click()
    page.wait_for_url("**/documents/")
    page.get_by_role("link", name="この書類を転送する").click()
    expect(page.locator("#forward-code-note")).to_contain_text(ASK)
    page.fill("#id_name", "木村 四郎")
    page.fill("#id_email", NEW_EMAIL)
    page.fill("#id_note", MESSAGE)
    no_sideways_scroll(page)
    page.locator("#forward").click()
    see(page, "転送しました")
    expect(page.locator("body")).to_contain_text(ASK)

    # The new signer: the mail's link, the message, the forwarder, whom to ask for the code.
    [mail] = mails_to(NEW_EMAIL)
    assert ASK in mail.body and "転送元: 佐藤工業株式会社 佐藤 次郎 様" in mail.body
    signer = context.new_page()
    signer.goto(site + last_link(NEW_EMAIL))
    expect(signer.locator("h1")).to_have_text("アクセスコードの入力")
    notice = signer.locator("#forwarded")
    expect(notice).to_contain_text("転送元: 佐藤工業株式会社 佐藤 次郎 様")
    message = signer.locator("#forward-message")
    expect(message).to_contain_text("担当が木村に変わりました。")
    expect(message).to_contain_text("<b>署名</b>をお願いします。")  # shown as typed, not markup
    expect(message.locator("b")).to_have_count(0)
    expect(signer.locator("#code-instruction")).to_contain_text(ASK)
    expect(signer.locator("body")).not_to_contain_text(contract.title)
    no_sideways_scroll(signer)

    signer.fill("#id_code", FIRM.code)
    signer.get_by_role("button", name="確認する").click()
    signer.wait_for_url("**/documents/")
    expect(signer.locator("#forward-message")).to_contain_text("担当が木村に変わりました。")
    signer.locator(".pages img").first.wait_for()
    signer.get_by_role("button", name="内容に同意する").click()
    see(signer, "署名手続きの確認")
    expect(signer.locator("main")).to_contain_text("佐藤工業株式会社 木村 四郎 様")
    signer.get_by_role("button", name="署名手続きを完了する").click()
    see(signer, "署名手続きが完了しました")
    no_sideways_scroll(signer)
    context.close()
    assert Contract.objects.get(pk=contract.pk).is_concluded
