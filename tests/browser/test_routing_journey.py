"""Issue 3 journeys in a real browser: parallel routing with an approver, reminder, cancel, template."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from keiyaku.contracts.models import Contract, ContractStatus, PartyStatus
from tests.browser.helpers import add_external, add_staff, create, login, mail_link, see
from tests.browser.screenshots import manual_screenshot
from tests.flow import approver
from tests.pdfs import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_parallel_routing_reminder_cancel_and_template(browser, site, personas, tmp_path):
    approver(personas, "chief", "課長 一")
    pdf = tmp_path / "契約書.pdf"
    pdf.write_bytes(make_pdf())
    page = browser.new_context(locale="ja-JP").new_page()
    login(page, site, "sender", personas.password, wait=True)

    create(page, site, pdf, "JV 工事請負契約")
    add_staff(page, "課長 一（契約課）", "approver")
    add_external(page, "株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
    add_external(page, "佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222", parallel=True)
    add_staff(page, "市長 一郎（土木課）", "signer")
    steps = page.get_by_test_id("step").all_inner_texts()
    assert [s.split()[0] for s in steps] == ["1", "2", "2", "3"]
    manual_screenshot(page, "staff-routing", between=("h1", "#send-button"))
    page.fill("#id_template_name", "JV工事")
    page.get_by_role("button", name="保存").click()
    see(page, "テンプレート「JV工事」を保存しました")
    page.get_by_role("button", name="送信内容を確認する").click()
    page.get_by_role("button", name="署名依頼を送信する").click()
    see(page, "署名依頼を送信しました")
    contract = Contract.objects.get(title="JV 工事請負契約")
    detail = page.url

    # The approver approves first; then both companies are asked at once.
    chief_page = browser.new_context(locale="ja-JP").new_page()
    chief_page.goto(mail_link(page, site, "chief@city.example.jp", "承認依頼"))
    chief_page.fill("#id_username", "chief")
    chief_page.fill("#id_password", personas.password)
    chief_page.get_by_role("button", name="ログイン", exact=True).click()
    chief_page.get_by_role("button", name="承認する").click()
    chief_page.get_by_role("button", name="承認を完了する").click()
    see(chief_page, "承認が完了しました")
    first_link = mail_link(page, site, "takahashi@example.jp", "署名依頼")
    assert mail_link(page, site, "sato@example.jp", "署名依頼")

    # Reminder from the detail page: a fresh link, the old one dies.
    page.goto(detail)
    manual_screenshot(
        page,
        "staff-followup",
        between=('h2:has-text("送信後の対応")', "form:has(#id_cancel_reason)"),
    )
    page.get_by_role("button", name="リマインドを送信する").click()
    see(page, "2名にリマインドを送信しました")
    reminder_link = mail_link(page, site, "takahashi@example.jp", "【リマインド】")
    assert reminder_link != first_link
    firm = browser.new_context(locale="ja-JP").new_page()
    firm.goto(first_link)
    assert "このリンクは使用できません" in firm.content() or "有効期限" in firm.content()

    # Cancel with a reason: the counterparty's link shows the cancellation.
    page.goto(detail)
    page.fill("#id_cancel_reason", "設計変更のため")
    page.get_by_role("button", name="取り消す").click()
    see(page, "案件を取り消しました")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.CANCELLED
    firm.goto(reminder_link)
    see(firm, "この契約は取り消されました")
    page.goto(f"{site}/mailbox/")
    notice = page.locator("article", has_text="sato@example.jp").filter(has_text="取り消されました")
    expect(notice.first).to_contain_text("設計変更のため")
    assert not contract.parties.filter(status=PartyStatus.SIGNED).exists()

    # Start a new contract from the saved template.
    create(page, site, pdf, "JV 工事請負契約（再）")
    page.get_by_role("link", name="JV工事").click()
    for index, (company, name, email, code) in enumerate(
        [
            ("山田建設", "山田 太郎", "yamada@example.jp", "3333"),
            ("田中工務店", "田中 花子", "tanaka@example.jp", "4444"),
        ]
    ):
        page.fill(f"#id_slot{index}-company", company)
        page.fill(f"#id_slot{index}-name", name)
        page.fill(f"#id_slot{index}-email", email)
        page.fill(f"#id_slot{index}-access_code", code)
    page.get_by_role("button", name="適用する").click()
    see(page, "テンプレートから署名者を設定しました")
    steps = page.get_by_test_id("step").all_inner_texts()
    assert [s.split()[0] for s in steps] == ["1", "2", "2", "3"]
    expect(page.locator("table >> text=山田 太郎")).to_have_count(1)
