"""After signing, in Chromium at a desk (1280×900) and on a phone (390×844), issue 14:

(a) the completion mail's link → the download page → the signed PDF (it validates in pdfsig)
    and the certificate of completion; the page still works 13 days later and is gone, with a
    page saying so, after KEIYAKU_DOWNLOAD_LINK_DAYS (R23; the clock moved with time-machine);
(b) the free account (R3): registered from the download page's offer and the mailed one-time
    link, it lists the contracts signed with two organisations, and downloads one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import pdftotext, see
from tests.counterparty_accounts.flow import FIRM, account_links, signed
from tests.flow import mail_links
from tests.outside import pdfsig

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow(seconds=20),
]

DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP"}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "locale": "ja-JP"}


def signed_elsewhere(*args, **kwargs):
    """`signed` in a thread of its own: pyHanko runs its own event loop, and Playwright's is
    running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(signed, *args, **kwargs).result()


def no_sideways_scroll(page) -> None:
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), "the page scrolls sideways"


def test_the_completion_mail_leads_to_the_signed_pdf_and_certificate_for_the_links_days(
    browser, site, personas, settings
):
    settings.KEIYAKU_ATTACH_LIMIT_BYTES = 0  # the completion mail carries the download link
    contract = signed_elsewhere(personas.sender, FIRM, title="令和8年度 道路補修工事 請負契約")
    link = site + mail_links(FIRM.email)[-1]

    desk = browser.new_context(**DESK, accept_downloads=True)
    page = desk.new_page()
    page.goto(link)
    see(page, "すべての署名が完了しました")
    expect(page.locator("#download-expiry")).to_contain_text("日本時間")
    expect(page.locator("#verify-info")).to_contain_text(f"{site}/verify/")
    expect(page.locator("#hashes dd")).to_be_hidden()  # behind 詳細
    with page.expect_download() as signed_file:
        page.get_by_role("link", name="契約書1.pdf").click()
    assert signed_file.value.suggested_filename == "署名済み_契約書1.pdf"
    signatures = pdfsig(Path(signed_file.value.path()).read_bytes())
    assert any(not s["is_document_timestamp"] for s in signatures)
    with page.expect_download() as certificate:
        page.locator("#certificate-download").click()
    assert contract.certificate_id in pdftotext(Path(certificate.value.path()).read_bytes())
    desk.close()

    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    with time_machine.travel(timezone.now() + timedelta(days=13), tick=True):
        page.goto(link)
        see(page, "署名済みの書類")
        expect(page.locator("#certificate-download")).to_be_visible()
        page.locator("#hashes summary").click()
        expect(page.locator("#hashes dd")).to_be_visible()
        no_sideways_scroll(page)
    days = settings.KEIYAKU_DOWNLOAD_LINK_DAYS
    with time_machine.travel(timezone.now() + timedelta(days=days, minutes=1), tick=True):
        page.goto(link)
        see(page, "ダウンロードの有効期限が切れています")
        expect(page.locator("#contact")).to_be_visible()
        no_sideways_scroll(page)
    phone.close()


def test_a_free_account_lists_the_contracts_of_two_organisations(browser, site, personas, settings):
    settings.KEIYAKU_ATTACH_LIMIT_BYTES = 0
    signed_elsewhere(personas.sender, FIRM, title="テスト市 道路補修工事")
    signed_elsewhere(personas.outsider, FIRM, title="よそ町 公園整備工事")
    link = site + mail_links(FIRM.email)[-1]

    phone = browser.new_context(**PHONE, accept_downloads=True)
    page = phone.new_page()
    page.goto(link)
    offer = page.locator("#account-offer")
    expect(offer).to_contain_text("無料アカウントで締結済み契約をいつでも確認")
    expect(offer.locator("input[type=email]")).to_have_value(FIRM.email)
    offer.get_by_role("button", name="登録用のリンクをメールで受け取る").click()
    see(page, "メールをご確認ください")

    page.goto(site + account_links(FIRM.email)[-1])
    page.get_by_role("button", name="ログインする").click()
    page.wait_for_url("**/counterparty/contracts/")
    cards = page.locator(".signed-contract")
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="テスト市 道路補修工事")).to_contain_text("テスト市")
    town = cards.filter(has_text="よそ町 公園整備工事")
    expect(town).to_contain_text("よそ町")
    no_sideways_scroll(page)
    with page.expect_download() as signed_file:
        town.get_by_role("link", name="契約書1.pdf").click()
    assert Path(signed_file.value.path()).read_bytes().startswith(b"%PDF")
    expect(page.get_by_role("link", name="署名検証")).to_be_visible()
    phone.close()
