"""Bulk import of contracts concluded elsewhere (R30) in Chromium: a dry run that lists the bad
rows, the fixed CSV imported, the contracts listed as imported (issue 15, acceptance 7)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from keiyaku.contracts.import_csv import COLUMNS
from keiyaku.contracts.models import Contract
from tests.browser.helpers import login
from tests.browser.screenshots import manual_screenshot
from tests.pdfs import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = [headings[0] for headings in COLUMNS.values()]


def import_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """A CSV as Excel on Windows saves it: Shift_JIS (CP932), CRLF."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [HEADER, *([row.get(key, "") for key in COLUMNS] for row in rows)]
    )
    path.write_bytes(out.getvalue().encode("cp932"))
    return path


def test_staff_bulk_import_with_a_dry_run_then_the_list_marks_them(
    browser, site, personas, tmp_path: Path
):
    archive = tmp_path / "契約書.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("清掃_契約書.pdf", make_pdf(text="庁舎清掃業務委託契約書"))
        out.writestr("道路_契約書.pdf", make_pdf(text="道路補修工事請負契約書"))
    rows = [
        {"title": "庁舎清掃業務委託", "amount": "1980000", "files": "清掃_契約書.pdf"},
        {"title": "道路補修工事", "contract_date": "2024/06/31", "files": "道路_契約.pdf"},
    ]
    bad = import_csv(tmp_path / "取込_誤りあり.csv", rows)
    rows[1].update(contract_date="2024/06/30", files="道路_契約書.pdf")
    fixed = import_csv(tmp_path / "取込.csv", rows)

    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site, "sender", personas.password, wait=True)
    page.get_by_test_id("import-link").click()
    page.get_by_role("link", name="複数の契約をまとめて取り込む（ZIPとCSV）").click()

    # The dry run of a CSV with mistakes: each bad row with its column and reason, nothing saved.
    page.set_input_files("#id_csv_file", str(bad))
    page.set_input_files("#id_zip_file", str(archive))
    page.get_by_role("button", name="内容を確認する").click()
    assert page.locator("#import-preview").get_attribute("data-ok") == "false"
    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("「2024/06/31」は日付")
    expect(errors).to_contain_text("「道路_契約.pdf」がZIPの中にありません")
    expect(errors.locator("tr.bad[data-line='3']")).to_have_count(2)
    assert not Contract.objects.filter(imported_at__isnull=False).exists()

    # The fixed CSV: checked, then imported.
    page.set_input_files("#id_csv_file", str(fixed))
    page.set_input_files("#id_zip_file", str(archive))
    page.get_by_role("button", name="内容を確認する").click()
    expect(page.get_by_test_id("plan-ok")).to_contain_text("2 行に誤りはありません")
    manual_screenshot(page, "staff-import", full_page=True)
    page.set_input_files("#id_csv_file", str(fixed))
    page.set_input_files("#id_zip_file", str(archive))
    page.get_by_role("button", name="取り込む", exact=True).click()
    page.wait_for_url(f"{site}/")
    expect(page.get_by_text("2件の契約を取り込みました")).to_be_visible()
    row = page.locator("tr", has_text="庁舎清掃業務委託")
    expect(row.get_by_test_id("imported")).to_have_text("取込")
    expect(page.locator("tr", has_text="道路補修工事").get_by_test_id("imported")).to_be_visible()
    row.get_by_role("link", name="庁舎清掃業務委託").click()
    expect(page.get_by_test_id("import-note")).to_be_visible()
    expect(page.get_by_test_id("download-stamped")).to_be_visible()
    context.close()
