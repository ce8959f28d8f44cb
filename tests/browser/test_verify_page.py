"""The public verification page in a real browser, at desktop size and on a phone (390×844):
each result in plain Japanese, a certificate of completion recognised, nothing scrolls
sideways (issue 14)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from keiyaku.contracts.models import CompletionCertificate
from keiyaku.storage.blobs import blob_get
from tests.flow import External, completed_pdf
from tests.pdfs import annotated_later, make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
RAW = ("FORM_FILLING", "LTA_UPDATES", "OTHER", "ENTIRE_FILE", "unreadable PDF")


def _files(personas) -> dict[str, bytes]:
    final = completed_pdf(personas, [FIRM])
    return {
        "certificate": blob_get(CompletionCertificate.objects.get().blob),
        "changed": annotated_later(final),
        "unsigned": make_pdf(),
        "not_pdf": b"GIF89a this is an image, not a PDF",
    }


@pytest.mark.slow(seconds=20)
@pytest.mark.parametrize(
    "viewport",
    [{"width": 1280, "height": 800}, {"width": 390, "height": 844}],
    ids=["desktop", "phone"],
)
def test_each_result_reads_plainly_and_fits_the_screen(browser, site, personas, tmp_path, viewport):
    # pyHanko runs its own event loop; Playwright's is running in this thread.
    with ThreadPoolExecutor(1) as pool:
        files = pool.submit(_files, personas).result()
    page = browser.new_context(locale="ja-JP", viewport=viewport).new_page()
    expected = {
        "certificate": ("concluded", "この keiyaku が発行した締結証明書です"),
        "changed": ("failed", "検証に失敗しました"),
        "unsigned": ("unsigned", "このPDFには電子署名がありません"),
        "not_pdf": ("unreadable", "PDFファイルとして読み込めませんでした"),
    }
    for name, (verdict, heading) in expected.items():
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(files[name])
        page.goto(f"{site}/verify/")
        page.set_input_files("#id_file", str(path))
        page.get_by_role("button", name="検証する").click()
        result = page.locator("#verify-result")
        expect(result).to_have_attribute("data-verdict", verdict)
        expect(result.get_by_role("heading")).to_contain_text(heading)
        shown = page.locator("main").inner_text()
        for raw in RAW:
            assert raw not in shown, (name, raw)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{name}: the page scrolls sideways at {viewport}"
        )
        rows = page.locator("table.verify-lines tbody tr")
        if name in ("unsigned", "not_pdf"):
            assert rows.count() == 0  # no empty table under the message
        else:
            assert rows.count() >= 2
            expect(rows.first).to_be_visible()
        if name == "changed":  # each row says in words what followed it
            assert "あり（最後の署名の後に変更されています）" in shown
            assert "この署名が認めていない変更" in shown
