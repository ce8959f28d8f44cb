"""The public "about trust" page (/trust/) in a real browser, on a desktop and on a phone: a
counterparty asked to trust keiyaku's root reads it on either, without scrolling sideways
(the SHA-256 fingerprints are one long word each)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_the_trust_page_fits_a_desktop_and_a_phone(browser, site):
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(locale="ja-JP", viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{site}/trust/")
        table = page.locator("#trust-roots-table")
        expect(table).to_contain_text("keiyaku Root CA")
        expect(table.get_by_role("link", name="PEM をダウンロード").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        context.close()
