"""Steps the browser journeys share: log in, create a contract, add parties, read the mailbox."""

from __future__ import annotations

import subprocess
from pathlib import Path

from playwright.sync_api import expect


def see(page, text: str) -> None:
    """The page shows `text`, waiting for a navigation the last click started to finish.

    A click returns once the next document starts loading, so `page.content()` read at once may
    still be the old page or half of the new one; this waits (Playwright's retrying assertion).
    """
    expect(page.locator("body")).to_contain_text(text)


def login(page, site: str, username: str, password: str, *, wait: bool = False) -> None:
    page.goto(f"{site}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    if wait:
        page.wait_for_url(f"{site}/")


def create(page, site: str, pdf: Path, title: str) -> None:
    page.goto(f"{site}/contracts/new/")
    page.fill("#id_title", title)
    page.set_input_files("#id_files", str(pdf))
    page.get_by_role("button", name="作成する").click()
    page.wait_for_url("**/contracts/*/")


def add_external(page, company: str, name: str, email: str, code: str, parallel: bool = False):
    page.select_option("#id_kind", "external")
    page.select_option("#id_role", "signer")
    page.fill("#id_company", company)
    page.fill("#id_name", name)
    page.fill("#id_email", email)
    page.fill("#id_access_code", code)
    page.set_checked("#id_parallel", parallel)
    page.get_by_role("button", name="署名者を追加").click()


def add_staff(page, label: str, role: str):
    page.select_option("#id_kind", "staff")
    page.select_option("#id_role", role)
    page.select_option("#id_staff", label=label)
    page.set_checked("#id_parallel", False)
    page.get_by_role("button", name="署名者を追加").click()


def mail_link(page, site: str, address: str, subject_part: str) -> str:
    """The first link of the newest captured mail to `address` whose text has `subject_part`."""
    page.goto(f"{site}/mailbox/")
    mail = page.locator("article", has_text=address).filter(has_text=subject_part).first
    return mail.locator("a").first.get_attribute("href")


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def fill_box(page, selector: str, value: str) -> None:
    """Type `value` into a party's box on the signing page as a person does: a box shorter than a
    tap target opens the input sheet (click, type, OK); a larger one is typed into in place."""
    page.click(selector)
    sheet = page.locator("#box-sheet")
    if sheet.is_visible():
        page.fill("#box-sheet-field", value)
        page.click("#box-sheet-ok")
        expect(sheet).to_be_hidden()
    else:
        page.fill(selector, value)
    expect(page.locator(selector)).to_have_value(value)
