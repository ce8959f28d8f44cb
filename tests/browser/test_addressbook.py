"""The address book in a real browser: add, import a CSV, pick a contact as a party (R12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from keiyaku.addressbook.models import Contact
from tests.browser.helpers import login, see
from tests.flow import draft_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "会社名,会社名カナ,氏名,メールアドレス,電話番号,部署・役職\r\n"
    "有限会社渡辺工務店,ワタナベコウムテン,渡辺 花子,watanabe@watanabe.example.jp,011-222-3333,工事部長\r\n"
    "株式会社髙橋建設,タカハシケンセツ,佐藤 次郎,sato@takahashi-kensetsu.example.jp,,\r\n"
)


def test_staff_build_the_address_book_and_pick_a_contact_as_party(
    browser, site, personas, tmp_path: Path
):
    page = browser.new_context(locale="ja-JP").new_page()
    login(page, site, "sender", personas.password)

    page.get_by_role("link", name="アドレス帳").first.click()
    page.wait_for_url("**/addressbook/")
    see(page, "アドレス帳はまだ空です")
    page.get_by_role("link", name="会社を追加").click()
    page.fill("#id_name", "株式会社髙橋建設")
    page.fill("#id_kana", "タカハシケンセツ")
    page.get_by_role("button", name="保存する").click()
    see(page, "会社を登録しました")
    page.get_by_role("link", name="連絡先を追加").click()
    page.fill("#id_name", "髙橋 一郎")
    page.fill("#id_email", "takahashi@takahashi-kensetsu.example.jp")
    page.fill("#id_title", "代表取締役")
    page.get_by_role("button", name="保存する").click()
    see(page, "連絡先を登録しました")
    expect(page.locator("table >> text=takahashi@takahashi-kensetsu.example.jp")).to_have_count(1)

    # A CSV as Excel saves it on a Japanese Windows: Shift_JIS (CP932).
    csv_path = tmp_path / "取引先.csv"
    csv_path.write_bytes(CSV.encode("cp932"))
    page.get_by_role("link", name="アドレス帳").first.click()
    page.get_by_role("link", name="CSVインポート").click()
    page.set_input_files("#id_file", str(csv_path))
    page.get_by_role("button", name="確認する").click()
    preview = page.locator("#import-preview")
    expect(preview).to_contain_text("渡辺 花子")
    expect(preview).to_contain_text("佐藤 次郎")
    see(page, "2件の連絡先を取り込みます")
    assert Contact.objects.count() == 1  # nothing stored before the confirmation
    page.get_by_role("button", name="取り込む").click()
    page.wait_for_url("**/addressbook/")
    see(page, "連絡先を2件取り込みました（新しい会社1件）")
    page.fill("#id_q", "ワタナベ")
    page.get_by_role("button", name="検索").click()
    listing = page.locator("table")
    expect(listing).to_contain_text("有限会社渡辺工務店")
    expect(listing).not_to_contain_text("株式会社髙橋建設")

    # On a draft contract, the contact fills an external party.
    contract = draft_contract(personas.sender)
    page.goto(f"{site}/contracts/{contract.pk}/")
    page.select_option(
        "#id_pick_contact",
        label="株式会社髙橋建設 髙橋 一郎 <takahashi@takahashi-kensetsu.example.jp>",
    )
    page.fill("#id_pick_access_code", "2468")
    page.get_by_role("button", name="アドレス帳から追加").click()
    see(page, "髙橋 一郎 様を署名者に追加しました")
    routing = page.locator("table", has_text="takahashi@takahashi-kensetsu.example.jp")
    expect(routing).to_contain_text("株式会社髙橋建設 髙橋 一郎")
    (party,) = contract.parties.all()
    assert party.kind == "external" and party.email == "takahashi@takahashi-kensetsu.example.jp"

    # A wrong access code is explained on the page, and nothing is added.
    page.select_option(
        "#id_pick_contact", label="有限会社渡辺工務店 渡辺 花子 <watanabe@watanabe.example.jp>"
    )
    page.fill("#id_pick_access_code", "12")
    page.get_by_role("button", name="アドレス帳から追加").click()
    see(page, "アクセスコードは半角英数字4〜32文字で入力してください")
    assert contract.parties.count() == 1

    # The same contact, signing at the same time as 髙橋 (one parallel step).
    page.select_option(
        "#id_pick_contact", label="有限会社渡辺工務店 渡辺 花子 <watanabe@watanabe.example.jp>"
    )
    page.fill("#id_pick_access_code", "1357")
    page.check("#id_pick_parallel")
    page.get_by_role("button", name="アドレス帳から追加").click()
    see(page, "渡辺 花子 様を署名者に追加しました")
    expect(page.locator("tr", has_text="渡辺 花子")).to_contain_text("（並列）")
    first, second = contract.parties.order_by("position")
    assert second.parallel and second.step == first.step
