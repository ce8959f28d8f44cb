"""An organisation admin in a real browser: CSV import (preview, fix, apply), roles, a share."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from keiyaku.accounts.models import Role, Staff
from keiyaku.contracts.selectors import contracts_visible_to
from tests.browser.helpers import login, mail_link, see
from tests.browser.screenshots import manual_screenshot
from tests.flow import draft_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = ["氏名", "ふりがな", "所属", "メールアドレス", "ログインID", "役割"]


def staff_csv(path: Path, rows: list[list[str]]) -> Path:
    """A CSV as Excel on Windows saves it: Shift_JIS (CP932), CRLF."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([HEADER, *rows])
    path.write_bytes(out.getvalue().encode("cp932"))
    return path


def test_admin_imports_staff_sets_roles_and_shares_a_contract(
    browser, site, personas, tmp_path: Path
):
    rows = [
        [
            "髙田 一郎",
            "たかだ いちろう",
            "土木課",
            "takada@city.example.jp",
            "takada",
            "契約事務担当者",
        ],
        ["斉藤 花子", "さいとう はなこ", "道路課", "saito@city.example.jp", "saito", "閲覧者"],
        ["山﨑 次郎", "やまざき じろう", "契約課", "yamazaki@city", "yamazaki", "承認者"],
    ]
    bad = staff_csv(tmp_path / "職員_誤りあり.csv", rows)
    rows[1][2] = "土木課"
    rows[2][3] = "yamazaki@city.example.jp"
    fixed = staff_csv(tmp_path / "職員.csv", rows)
    contract = draft_contract(personas.sender, title="令和8年度 橋梁点検業務委託")

    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    login(page, site, "city-admin", personas.password, wait=True)
    page.get_by_role("link", name="管理", exact=True).click()
    page.get_by_role("link", name="CSV一括登録").click()

    # Preview of a file with mistakes: every bad row with its reason, nothing saved.
    page.set_input_files("#id_file", str(bad))
    page.get_by_role("button", name="内容を確認する").click()
    preview = page.locator("#import-preview")
    assert preview.get_attribute("data-ok") == "false"
    table = page.locator("#import-errors")
    expect(table).to_contain_text("所属「道路課」が登録されていません")
    expect(table).to_contain_text("メールアドレス「yamazaki@city」の形式が正しくありません")
    expect(page.get_by_role("button", name="この内容で登録する")).to_have_count(0)
    assert not Staff.objects.filter(username__in=["takada", "saito", "yamazaki"]).exists()

    # The corrected file: preview, then apply.
    page.set_input_files("#id_file", str(fixed))
    page.get_by_role("button", name="内容を確認する").click()
    expect(preview).to_contain_text("3 行に誤りはありません（新規登録 3 名、更新 0 名）")
    manual_screenshot(page, "staff-admin-import", full_page=True)
    page.get_by_role("button", name="この内容で登録する").click()
    page.wait_for_url(f"{site}/admin-org/")
    see(page, "新規登録 3 名")
    expect(page.locator("#staff-table tr", has_text="髙田 一郎")).to_have_count(1)
    manual_screenshot(page, "staff-admin-staff")

    # Roles: 髙田 also becomes an approver.
    page.get_by_role("link", name="髙田 一郎").click()
    page.get_by_label("承認者").check()
    page.get_by_role("button", name="保存する").click()
    page.wait_for_url(f"{site}/admin-org/")
    expect(page.locator("#staff-table tr", has_text="髙田 一郎")).to_contain_text(
        "契約事務担当者、承認者"
    )
    assert Staff.objects.get(username="takada").roles == [Role.SENDER, Role.APPROVER]

    # A department share: 土木課 may now read a 契約課 contract.
    takada = Staff.objects.get(username="takada")
    assert not contracts_visible_to(takada).filter(pk=contract.pk).exists()
    page.goto(f"{site}/contracts/{contract.pk}/")
    page.select_option("#id_share_department", label="土木課")
    page.get_by_role("button", name="共有する").click()
    see(page, "共有しました")
    expect(page.locator("#shares")).to_contain_text("土木課（所属）")
    assert contracts_visible_to(takada).filter(pk=contract.pk).exists()

    # 髙田 reads the welcome mail, chooses a first password and logs in with it.
    welcome = mail_link(page, site, "takada@city.example.jp", "アカウントが登録されました")
    assert "/welcome/" in welcome
    newcomer = browser.new_context(locale="ja-JP").new_page()
    newcomer.goto(welcome)
    new = "hashi-no-tenken-2026"
    newcomer.fill("#id_new_password1", new)
    newcomer.fill("#id_new_password2", new)
    newcomer.get_by_role("button", name="パスワードを設定する").click()
    see(newcomer, "新しいパスワードを設定しました。")
    login(newcomer, site, "takada", new, wait=True)
    see(newcomer, "令和8年度 橋梁点検業務委託")  # the shared contract, in 髙田's list
    assert not errors, errors  # nothing the Content-Security-Policy refused
