"""An electronic surety (R32) in Chromium: at desktop size registered on a concluded contract's
page with its 「認証キーのお知らせ」, the notice listed under 「添付ファイル（署名対象外）」 apart
from the contract's documents and downloaded as a file, its 保証契約番号 corrected, then the
contract found in the list by the corrected number typed in full-width digits (the mistyped one
finds nothing); on a 390×844 phone, the notice removed after a Japanese confirmation with the
reason, and the removal and the correction read in the collapsed 「削除・訂正の履歴」."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from keiyaku.contracts.models import Contract, ContractStatus
from tests.browser.helpers import login, see
from tests.flow import draft_contract
from tests.pdfs import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "locale": "ja-JP"}


@pytest.mark.slow(seconds=15)
def test_surety_with_its_notice_corrected_removed_and_searched_by_number(
    browser, site, personas, tmp_path
):
    contract = draft_contract(personas.sender, title="市道3号線 舗装工事")
    draft_contract(personas.sender, title="別の工事")
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.COMPLETED)
    notice = tmp_path / "認証キーのお知らせ.pdf"
    notice.write_bytes(make_pdf(text="認証キーのお知らせ"))

    page = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800}).new_page()
    login(page, site, "sender", personas.password, wait=True)
    page.goto(f"{site}/contracts/{contract.pk}/")
    page.get_by_text("電子保証を登録する").click()
    form = page.locator("#surety-form")
    form.get_by_label("保証の種類").select_option(label="前払金保証")
    form.get_by_label("保証事業会社").fill("東日本建設業保証株式会社")
    form.get_by_label("保証契約番号", exact=True).fill("R8-0042-71")  # mistyped
    form.get_by_label("認証キー", exact=True).fill("AB12-CD34-EF56")
    form.get_by_label("認証キーのお知らせ（PDF）").set_input_files(str(notice))
    form.get_by_role("button", name="登録する").click()
    see(page, "電子保証を登録しました。")

    # The clerk notices the mistyped number and corrects it, saying why.
    page.get_by_test_id("surety").get_by_role("link", name="訂正").click()
    see(page, "電子保証の訂正")
    correct = page.locator("#surety-correct-form")
    expect(correct.get_by_label("保証契約番号", exact=True)).to_have_value("R8-0042-71")
    correct.get_by_label("保証契約番号", exact=True).fill("R8-0042-17")
    correct.get_by_role("button", name="訂正する").click()  # no reason: the browser asks for it
    assert correct.get_by_label("訂正の理由").evaluate("e => e.validity.valueMissing")
    see(page, "電子保証の訂正")
    correct.get_by_label("訂正の理由").fill("保証契約番号の入力誤り")
    correct.get_by_role("button", name="訂正する").click()
    see(page, "電子保証を訂正しました。")

    surety = page.get_by_test_id("surety")
    expect(surety).to_contain_text("前払金保証")
    expect(surety).to_contain_text("R8-0042-17")
    expect(page.get_by_test_id("auth-key")).to_have_text("AB12-CD34-EF56")
    attachments = page.locator("#attachments")
    expect(attachments.get_by_role("heading")).to_have_text("添付ファイル（署名対象外）")
    expect(attachments.get_by_test_id("attachment")).to_contain_text("認証キーのお知らせ.pdf")
    # Not among the contract's documents (the signed ones).
    expect(page.locator("table").first).not_to_contain_text("認証キーのお知らせ")
    with page.expect_download() as download:
        attachments.get_by_role("link", name="認証キーのお知らせ.pdf", exact=True).click()
    assert download.value.suggested_filename == "認証キーのお知らせ.pdf"
    assert open(download.value.path(), "rb").read() == notice.read_bytes()  # noqa: PTH123

    page.goto(f"{site}/")
    page.get_by_text("詳しい条件").click()
    page.get_by_label("保証契約番号").fill("００４２－１７")
    page.get_by_role("button", name="この条件で検索").click()
    expect(page.get_by_role("link", name="市道3号線 舗装工事")).to_be_visible()
    expect(page.get_by_role("link", name="別の工事")).to_have_count(0)
    page.get_by_label("保証契約番号").fill("0042-71")  # the mistyped number: current values only
    page.get_by_role("button", name="この条件で検索").click()
    see(page, "条件に合う案件はありません")
    expect(page.get_by_role("link", name="市道3号線 舗装工事")).to_have_count(0)

    # On a phone: the wrong notice removed, after the confirmation, with the reason.
    phone = browser.new_context(**PHONE).new_page()
    login(phone, site, "sender", personas.password, wait=True)
    phone.goto(f"{site}/contracts/{contract.pk}/")
    phone.locator("#attachments").get_by_role("link", name="認証キーのお知らせ.pdf を削除").click()
    see(phone, "次の添付ファイルを削除します。よろしいですか。")
    expect(phone.locator("#removal-target")).to_contain_text("認証キーのお知らせ.pdf")
    assert phone.evaluate(  # the SHA-256 wraps: nothing to scroll sideways for
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    phone.get_by_label("削除の理由").fill("別の工事のお知らせだった")
    phone.get_by_role("button", name="削除する").click()
    see(phone, "添付ファイルを削除しました。")
    attachments = phone.locator("#attachments")
    expect(attachments.get_by_test_id("attachment")).to_have_count(0)
    history = phone.locator("#surety-history")
    expect(history.get_by_test_id("removed-attachment")).not_to_be_visible()  # collapsed
    history.get_by_text("削除・訂正の履歴（2件）").click()
    removed = history.get_by_test_id("removed-attachment")
    expect(removed).to_be_visible()
    expect(removed).to_contain_text("別の工事のお知らせだった")
    expect(removed).to_contain_text(hashlib.sha256(notice.read_bytes()).hexdigest())
    expect(history.get_by_test_id("surety-correction")).to_contain_text("R8-0042-71")
    expect(history.get_by_test_id("surety-correction")).to_contain_text("保証契約番号の入力誤り")
