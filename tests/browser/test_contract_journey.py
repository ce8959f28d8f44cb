"""The core journey in a real browser: create, send, sign from the mailbox, download."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import expect

from keiyaku.contracts.models import Contract, ContractStatus
from keiyaku.signing.verification import verify_pdf
from tests.browser.helpers import login, pdftotext, see
from tests.browser.screenshots import manual_screenshot
from tests.pdfs import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_send_counterparty_and_mayor_sign_staff_download(
    browser, site, personas, tmp_path: Path
):
    pdf_path = tmp_path / "工事請負契約書.pdf"
    pdf_path.write_bytes(make_pdf(pages=2))

    staff = browser.new_context(accept_downloads=True, locale="ja-JP")
    page = staff.new_page()
    page.goto(f"{site}/login/")
    manual_screenshot(page, "staff-login")
    login(page, site, "sender", personas.password)
    page.get_by_role("link", name="新規作成").first.click()
    page.fill("#id_title", "令和8年度 公園整備工事 請負契約")
    page.fill("#id_management_number", "R8-公園-007")
    page.fill("#id_counterparty_company", "株式会社髙橋建設")
    page.fill("#id_amount", "9800000")
    page.set_input_files("#id_files", str(pdf_path))
    manual_screenshot(page, "staff-create", full_page=True)
    page.get_by_role("button", name="作成する").click()
    page.wait_for_url("**/contracts/*/")
    see(page, "案件を作成しました")

    page.select_option("#id_kind", "external")
    page.fill("#id_company", "株式会社髙橋建設")
    page.fill("#id_name", "髙橋 一郎")
    page.fill("#id_email", "takahashi@takahashi-kensetsu.example.jp")
    page.fill("#id_access_code", "4321")
    page.get_by_role("button", name="署名者を追加").click()
    page.select_option("#id_kind", "staff")
    page.select_option("#id_staff", label="市長 一郎（土木課）")
    page.get_by_role("button", name="署名者を追加").click()
    expect(page.locator("table >> text=髙橋 一郎")).to_have_count(1)
    page.get_by_role("button", name="送信内容を確認する").click()
    page.get_by_role("button", name="署名依頼を送信する").click()
    see(page, "署名依頼を送信しました")

    # The counterparty's request, read in the demo mailbox.
    page.get_by_role("link", name="メールボックス（デモ）").click()
    mail = page.locator("article", has_text="takahashi@takahashi-kensetsu.example.jp").first
    expect(mail).to_contain_text(
        "テスト市 様より「令和8年度 公園整備工事 請負契約」への署名依頼が届いています"
    )
    expect(mail).not_to_contain_text("4321")  # the access code is never e-mailed (R7)
    link = mail.locator("a").first.get_attribute("href")

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, locale="ja-JP"
    )
    counterparty = phone.new_page()
    counterparty.goto(link)
    counterparty.fill("#id_code", "0000")
    counterparty.get_by_role("button", name="確認する").click()
    see(counterparty, "アクセスコードが正しくありません")
    counterparty.fill("#id_code", "4321")
    counterparty.get_by_role("button", name="確認する").click()
    counterparty.wait_for_url("**/documents/")
    expect(counterparty.locator(".tabs a")).to_have_count(1)
    counterparty.locator(".pages img").first.wait_for()
    expect(counterparty.locator(".pages img")).to_have_count(2)
    counterparty.get_by_role("button", name="内容に同意する").click()
    counterparty.get_by_role("button", name="署名手続きを完了する").click()
    see(counterparty, "署名手続きが完了しました")

    # The organisation's own signer: the mayor logs in from the link.
    page.reload()
    mayor_link = (
        page.locator("article", has_text="mayor@city.example.jp")
        .first.locator("a")
        .first.get_attribute("href")
    )
    mayor = browser.new_context(locale="ja-JP").new_page()
    mayor.goto(mayor_link)
    mayor.fill("#id_username", "mayor")
    mayor.fill("#id_password", personas.password)
    mayor.click("button[type=submit]")
    mayor.wait_for_url("**/documents/")
    manual_screenshot(mayor, "staff-internal")
    mayor.get_by_role("button", name="内容に同意する").click()
    mayor.get_by_role("button", name="署名手続きを完了する").click()
    see(mayor, "署名手続きが完了しました")

    contract = Contract.objects.get(title="令和8年度 公園整備工事 請負契約")
    assert contract.status == ContractStatus.COMPLETED
    page.goto(f"{site}/")
    expect(page.locator("tr", has_text="公園整備工事")).to_contain_text("締結済み")
    page.get_by_role("link", name="令和8年度 公園整備工事 請負契約").click()
    page.get_by_test_id("download-signed").wait_for()
    manual_screenshot(
        page, "staff-complete", between=("h1", 'h2:has-text("署名者（署名順）") + table')
    )
    with page.expect_download() as signed:
        page.get_by_test_id("download-signed").click()
    signed_pdf = Path(signed.value.path()).read_bytes()
    # pyHanko runs its own event loop; Playwright's is running in this thread.
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(verify_pdf, signed_pdf).result()
    assert report.ok, report.as_dict()
    # Anyone can check the signed PDF on the public verification page (R25), without login.
    signed_path = tmp_path / "署名済み.pdf"
    signed_path.write_bytes(signed_pdf)
    verifier = browser.new_context(locale="ja-JP").new_page()
    verifier.goto(f"{site}/verify/")
    verifier.set_input_files("#id_file", str(signed_path))
    verifier.get_by_role("button", name="検証する").click()
    result = verifier.locator("#verify-result")
    assert result.get_attribute("data-ok") == "true"
    expect(result).to_contain_text("すべての署名は有効です")
    see(verifier, "髙橋 一郎 様 [takahashi@takahashi-kensetsu.example.jp] が ")
    manual_screenshot(verifier, "staff-verify", full_page=True)

    with page.expect_download() as certificate:
        page.get_by_test_id("download-certificate").click()
    certificate_pdf = Path(certificate.value.path()).read_bytes()
    text = pdftotext(certificate_pdf)
    assert contract.certificate_id in text
    assert "髙橋 一郎" in text and "takahashi@takahashi-kensetsu.example.jp" in text

    # Completion notice with the signed PDF attached (small file, R23).
    page.get_by_role("link", name="メールボックス（デモ）").click()
    done = page.locator("article", has_text="電子署名完了のお知らせ").filter(
        has_text="takahashi@takahashi-kensetsu.example.jp"
    )
    expect(done).to_have_count(1)
    expect(done).to_contain_text("添付: 工事請負契約書.pdf")
