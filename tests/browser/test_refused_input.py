"""A refusal in a real browser: shown on the field, in the user's language, with what was typed
kept (R7, R45). The admin raises the organisation's access-code minimum; the sender's short code
is then refused on the field of 「署名者を追加」 and nothing has to be typed again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from keiyaku.contracts.models import Party
from tests.browser.helpers import add_external, login, see
from tests.flow import draft_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_short_access_code_is_refused_on_its_field_and_the_typed_party_is_kept(
    browser, site, personas
):
    admin = browser.new_context(locale="ja-JP").new_page()
    login(admin, site, "city-admin", personas.password)
    admin.goto(f"{site}/admin-org/settings/")
    admin.fill("#id_access_code_min_length", "8")
    admin.get_by_role("button", name="保存する").click()
    see(admin, "設定を保存しました。")

    contract = draft_contract(personas.sender, title="道路補修工事")
    page = browser.new_context(locale="ja-JP").new_page()
    login(page, site, "sender", personas.password)
    page.goto(f"{site}/contracts/{contract.pk}/")
    add_external(page, "株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "123456")
    form = page.locator("#party-form")
    expect(form.get_by_role("alert")).to_contain_text("8〜32文字")
    expect(page.locator("#id_company")).to_have_value("株式会社髙橋建設")
    expect(page.locator("#id_email")).to_have_value("takahashi@example.jp")
    assert not Party.objects.filter(contract=contract).exists()

    # Only the code is typed again.
    page.fill("#id_access_code", "12345678")
    page.get_by_role("button", name="署名者を追加").click()
    see(page, "髙橋 一郎")
    assert Party.objects.filter(contract=contract, email="takahashi@example.jp").exists()


def test_in_english_the_refusal_is_english(browser, site, personas):
    contract = draft_contract(personas.sender, title="Road repair")
    page = browser.new_context(locale="en-GB").new_page()
    login(page, site, "sender", personas.password)
    page.goto(f"{site}/contracts/{contract.pk}/")
    page.get_by_role("button", name="English").click()
    page.goto(f"{site}/contracts/{contract.pk}/")
    page.select_option("#id_kind", "external")
    page.fill("#id_company", "Acme Ltd")
    page.fill("#id_name", "Jane Doe")
    page.fill("#id_email", "jane@example.com")
    page.fill("#id_access_code", "12")
    page.get_by_role("button", name="Add signer").click()
    alert = page.locator("#party-form").get_by_role("alert")
    expect(alert).to_contain_text("4")
    expect(alert).not_to_contain_text("アクセスコード")
    expect(page.locator("#id_email")).to_have_value("jane@example.com")
