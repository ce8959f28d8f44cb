"""Issue 15, acceptance 7 (export): a sender searches the contract list with combined
conditions, then downloads the result as CSV and its signed PDFs as a ZIP (desktop)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect

from keiyaku.contracts import services
from keiyaku.contracts.models import Contract
from tests.browser.helpers import login, see
from tests.contract_copies import copies_with_files
from tests.flow import External, agree, draft_contract, last_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")


def _concluded(personas) -> Contract:
    contract = draft_contract(personas.sender, externals=[FIRM], title="令和8年度 橋梁点検業務")
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    contract.refresh_from_db()
    assert contract.status == "completed", contract.status
    return contract


def test_search_then_csv_and_zip_of_the_result(browser, site, personas, tmp_path):
    # pyHanko runs its own event loop; Playwright's is running in this thread.
    with ThreadPoolExecutor(1) as pool:
        contract = pool.submit(_concluded, personas).result()
    Contract.objects.filter(pk=contract.pk).update(
        amount=2_500_000, contract_date=dt.date(2026, 5, 20)
    )
    contract.refresh_from_db()
    found = copies_with_files(contract, 2)
    too_dear = copies_with_files(contract, 2, amount=9_000_000)
    assert too_dear

    page = browser.new_context(
        locale="ja-JP", viewport={"width": 1280, "height": 800}, accept_downloads=True
    ).new_page()
    login(page, site, "sender", personas.password, wait=True)
    see(page, "案件一覧")
    page.get_by_text("詳しい条件").click()
    page.get_by_label("金額（円）から").fill("1,000,000")
    page.get_by_label("金額（円）まで").fill("5,000,000")
    page.get_by_label("契約日から").fill("2026-05-01")
    page.get_by_label("契約日まで").fill("2026-05-31")
    page.get_by_role("button", name="この条件で検索").click()
    expect(page.locator("tbody tr")).to_have_count(3)

    with page.expect_download() as download:
        page.get_by_role("link", name="CSVで出力").click()
    assert download.value.suggested_filename.startswith("案件一覧_")
    path = tmp_path / "result.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert {row["契約ID"] for row in rows} == {str(c.pk) for c in [contract, *found]}
    assert {row["取引金額（円）"] for row in rows} == {"2500000"}
    assert {row["状態"] for row in rows} == {"締結済み"}

    with page.expect_download() as download:
        page.get_by_role("link", name="PDFをまとめてダウンロード").click()
    path = tmp_path / "result.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(Path(path)) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
    for each in [contract, *found]:
        assert any(n.endswith(f"_{each.certificate_id}/署名済み_契約書1.pdf") for n in names)
        assert any(n.endswith(f"/締結証明書_{each.certificate_id}.pdf") for n in names)
    assert not any(c.certificate_id in n for c in too_dear for n in names)
    assert "SHA256SUMS" in names and "目録.csv" in names
