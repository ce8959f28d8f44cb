"""R14 in a real browser: the sender sends the 電子契約利用申出書 from the draft page, the company
opens the link from the demo mailbox, fills and submits it, the sender sees the new party."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from keiyaku.applications.models import Application, ApplicationStatus
from tests.browser.helpers import login, see
from tests.flow import draft_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMPANY_MAIL = "office@yamada-doboku.example.jp"


def test_company_fills_the_online_application_and_becomes_a_party(browser, site, personas):
    contract = draft_contract(personas.sender, title="令和8年度 河川護岸工事 請負契約")

    staff = browser.new_context(locale="ja-JP")
    page = staff.new_page()
    login(page, site, "sender", personas.password, wait=True)
    page.goto(f"{site}/contracts/{contract.pk}/")
    form = page.locator("#application-send-form")
    form.get_by_label("会社名").fill("株式会社山田土木")
    form.get_by_label("メールアドレス").fill(COMPANY_MAIL)
    form.get_by_role("button", name="利用申出書を送る").click()
    page.wait_for_url(f"**/contracts/{contract.pk}/")
    see(page, "利用申出書のリンクを送りました")
    expect(page.locator("#applications")).to_contain_text("回答待ち")

    # The company's e-mail, read in the demo mailbox.
    page.get_by_role("link", name="メールボックス（デモ）").click()
    mail = page.locator("article", has_text=COMPANY_MAIL).first
    expect(mail).to_contain_text("電子契約利用申出書の提出依頼")
    link = mail.locator("a").first.get_attribute("href")
    assert link and "/a/" in link

    company = browser.new_context(locale="ja-JP").new_page()  # no login
    company.goto(link)
    expect(company.locator("#consent-statement")).to_contain_text("建設業法施行令第5条の5")
    company.fill("#id_company", "株式会社山田土木")
    company.fill("#id_title", "代表取締役")
    company.fill("#id_name", "山田 太郎")
    company.fill("#id_email", "taro@yamada-doboku.example.jp")
    company.fill("#id_staff1_name", "鈴木 一郎")
    company.fill("#id_staff1_email", "suzuki@yamada-doboku.example.jp")
    company.fill("#id_access_code", "Yd2468")
    company.fill("#id_access_code_again", "Yd2486")
    company.get_by_role("button", name="申出書を提出する").click()
    see(company, "アクセスコードが一致しません")
    # Password fields are not re-filled after an error: enter both again, and consent.
    company.fill("#id_access_code", "Yd2468")
    company.fill("#id_access_code_again", "Yd2468")
    company.get_by_role("button", name="申出書を提出する").click()
    see(company, "電子契約の利用への承諾が必要です")
    company.fill("#id_access_code", "Yd2468")
    company.fill("#id_access_code_again", "Yd2468")
    company.check("#id_consent")
    company.get_by_role("button", name="申出書を提出する").click()
    see(company, "電子契約利用申出書を提出しました")
    company.goto(link)
    see(company, "この利用申出書は提出済みです")

    # The sender sees the company in the routing and the recorded consent.
    page.goto(f"{site}/contracts/{contract.pk}/")
    routing = page.locator("table", has_text="山田 太郎").first
    expect(routing).to_contain_text("taro@yamada-doboku.example.jp")
    applications = page.locator("#applications").inner_text()
    assert "提出済み" in applications and "鈴木 一郎" in applications and "承諾" in applications
    application = Application.objects.get(contract=contract)
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.party is not None and application.party.email == (
        "taro@yamada-doboku.example.jp"
    )
    staff.close()
