"""Issue 4, acceptance 4: staff place boxes with the mouse, two parties fill them, the PDF holds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from keiyaku.contracts.models import Box, BoxKind, Contract, ContractStatus
from tests.browser.helpers import (
    add_external,
    create,
    fill_box,
    login,
    mail_link,
    pdftotext,
    see,
)
from tests.browser.screenshots import manual_screenshot
from tests.pdfs import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADDRESS = "〒060-8611 札幌市中央区北1条西2丁目 ㈱髙橋ビル①"


def near(points: float):
    """A position from the mouse: whole CSS pixels, so within a pixel (3/4 pt) of the aim."""
    return pytest.approx(points, abs=1)


def geometry(box) -> tuple:
    if isinstance(box, dict):
        return box["page"], box["x"], box["y"], box["width"], box["height"]
    return box.page, box.x, box.y, box.width, box.height


def settle(page) -> None:
    """Wait until every request the placement screen started has answered, and none failed."""
    page.wait_for_selector("#box-editor[data-pending='0']", state="attached")
    assert page.inner_text("#box-errors") == ""


def point(page, kpage, scale: float, x: float, y: float) -> tuple[float, float]:
    """Viewport pixels of (x, y) PDF points on a page, scrolled so that the point is on screen."""
    kpage.evaluate(
        "(el, y) => window.scrollBy(0, el.getBoundingClientRect().top + y - 200)", y * scale
    )
    box = kpage.bounding_box()
    return box["x"] + x * scale, box["y"] + y * scale


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def draw(page, kpage, scale: float, x: float, y: float, width: float, height: float) -> dict:
    start = point(page, kpage, scale, x, y)
    end = (start[0] + width * scale, start[1] + height * scale)
    with page.expect_response(lambda r: r.url.endswith("/boxes.json") and r.status == 201) as made:
        drag(page, start, end)
    settle(page)
    return made.value.json()


def watch_console(page) -> list[str]:
    """Script errors and Content-Security-Policy violations ("Refused to …") on the page.

    Failed requests are left out (the browser asks for /favicon.ico); settle() checks the API's.
    """
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def open_placement(page, contract: Contract) -> dict:
    """Follow the detail page's link to the placement screen; returns the first document."""
    page.get_by_role("link", name="入力欄を配置").click()
    page.wait_for_url(f"**/contracts/{contract.pk}/boxes/")
    page.wait_for_selector("#box-editor[data-ready='true']", state="attached")
    state = page.request.get(page.url.removesuffix("boxes/") + "boxes.json").json()
    assert state["editable"] is True
    return state["documents"][0]


def test_keyboard_adds_moves_resizes_and_deletes_a_box(browser, site, personas, tmp_path: Path):
    pdf_path = tmp_path / "契約書.pdf"
    pdf_path.write_bytes(make_pdf())
    page = browser.new_context(locale="ja-JP").new_page()
    errors = watch_console(page)
    login(page, site, "sender", personas.password, wait=True)
    create(page, site, pdf_path, "キーボード操作の確認")
    add_external(page, "株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
    open_placement(page, Contract.objects.get(title="キーボード操作の確認"))

    # Add a box with the page's button, move it with the arrows, widen it with Shift+arrow
    # (saved once the keys stop), delete it with the Delete key.
    page.locator(".kpage-head", has=page.locator("h3", has_text="1 ページ")).get_by_role(
        "button", name="このページに入力欄を追加"
    ).focus()
    with page.expect_response(lambda r: r.url.endswith("/boxes.json") and r.status == 201) as made:
        page.keyboard.press("Enter")
    settle(page)
    extra = made.value.json()
    assert page.evaluate("document.activeElement.dataset.boxId") == str(extra["id"])
    with page.expect_response(lambda r: r.request.method == "PATCH"):
        for key in ("ArrowRight", "ArrowRight", "ArrowDown", "Shift+ArrowRight"):
            page.keyboard.press(key)
    settle(page)
    assert geometry(Box.objects.get(pk=extra["id"])) == (
        1,
        extra["x"] + 2,
        extra["y"] + 1,
        extra["width"] + 1,
        extra["height"],
    )
    with page.expect_response(lambda r: r.request.method == "DELETE"):
        page.keyboard.press("Delete")
    settle(page)
    assert not Box.objects.filter(pk=extra["id"]).exists()
    expect(page.locator(".kbox[data-box-id]")).to_have_count(0)
    assert errors == []


def test_staff_place_boxes_with_the_mouse_parties_fill_them_pdf_holds_values(
    browser, site, personas, tmp_path: Path
):
    pdf_path = tmp_path / "委託契約書.pdf"
    pdf_path.write_bytes(make_pdf(pages=2))
    staff = browser.new_context(
        accept_downloads=True, locale="ja-JP", viewport={"width": 1400, "height": 900}
    )
    page = staff.new_page()
    errors = watch_console(page)
    login(page, site, "sender", personas.password, wait=True)
    create(page, site, pdf_path, "令和8年度 清掃業務委託契約")
    add_external(page, "株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
    add_external(page, "佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")
    contract = Contract.objects.get(title="令和8年度 清掃業務委託契約")
    first, second = contract.parties.order_by("position")

    document = open_placement(page, contract)
    assert [p["number"] for p in document["pages"]] == [1, 2]
    page_width = document["pages"][0]["width"]
    page1 = page.locator(f'.kpage[data-document="{document["id"]}"][data-page="1"]')
    page2 = page.locator(f'.kpage[data-document="{document["id"]}"][data-page="2"]')
    # At 100% one point is 96/72 CSS pixels; the screen converts with the displayed size.
    scale = page1.bounding_box()["width"] / page_width
    assert scale == pytest.approx(96 / 72, abs=0.01)

    # Draw one box on each page with the mouse.
    name_box = draw(page, page1, scale, 100, 200, 200, 24)
    assert geometry(name_box) == (1, near(100), near(200), near(200), near(24))
    address_box = draw(page, page2, scale, 80, 300, 300, 60)
    assert geometry(address_box) == (2, near(80), near(300), near(300), near(60))
    expect(page.locator(".kbox[data-box-id]")).to_have_count(2)

    # Move the first box by (+40, +60) pt at 125% zoom: the stored move does not depend on zoom.
    page.click("#zoom-in")
    assert page.inner_text("#zoom-level") == "125%"
    zoomed = page1.bounding_box()["width"] / page_width
    assert zoomed == pytest.approx(scale * 1.25, abs=0.01)
    name_el = page.locator(f'.kbox[data-box-id="{name_box["id"]}"]')
    grab = point(page, page1, zoomed, 150, 205)
    with page.expect_response(lambda r: r.request.method == "PATCH"):
        drag(page, grab, (grab[0] + 40 * zoomed, grab[1] + 60 * zoomed))
    settle(page)
    page.click("#zoom-out")
    assert page.inner_text("#zoom-level") == "100%"

    # Resize the second box by (+20, +30) pt with its bottom-right handle.
    address_el = page.locator(f'.kbox[data-box-id="{address_box["id"]}"]')
    point(page, page2, scale, 380, 360)
    handle = address_el.locator(".kbox-handle").bounding_box()
    corner = (handle["x"] + handle["width"] - 2, handle["y"] + handle["height"] - 2)
    with page.expect_response(lambda r: r.request.method == "PATCH"):
        drag(page, corner, (corner[0] + 20 * scale, corner[1] + 30 * scale))
    settle(page)

    # Properties through the panel form: a required name for party 1, an address for party 2.
    name_el.focus()
    page.select_option("#box-kind", "text")
    page.fill("#box-label", "代表者氏名")
    page.press("#box-label", "Enter")
    page.select_option("#box-party", str(first.pk))
    page.set_checked("#box-required", True)
    settle(page)
    page.fill("#box-max-length", "0")
    page.press("#box-max-length", "Tab")
    expect(page.get_by_role("alert")).to_contain_text("最大文字数は1以上")
    page.fill("#box-max-length", "20")
    page.press("#box-max-length", "Tab")
    settle(page)
    address_el.focus()
    page.select_option("#box-kind", "multiline")
    page.fill("#box-label", "住所")
    page.press("#box-label", "Tab")
    page.select_option("#box-party", str(second.pk))
    page.set_checked("#box-required", False)
    settle(page)
    expect(name_el).to_contain_text("代表者氏名")
    expect(address_el).to_contain_text("住所")
    name_el.focus()
    manual_screenshot(page, "staff-boxes")

    # Moving keeps the size; resizing keeps the corner.
    name = Box.objects.get(pk=name_box["id"])
    assert geometry(name) == (
        1,
        near(name_box["x"] + 40),
        near(name_box["y"] + 60),
        name_box["width"],
        name_box["height"],
    )
    assert (name.kind, name.label, name.party, name.required, name.max_length) == (
        BoxKind.TEXT,
        "代表者氏名",
        first,
        True,
        20,
    )
    address = Box.objects.get(pk=address_box["id"])
    assert geometry(address) == (
        2,
        address_box["x"],
        address_box["y"],
        near(address_box["width"] + 20),
        near(address_box["height"] + 30),
    )
    assert (address.kind, address.label, address.party, address.required) == (
        BoxKind.MULTILINE,
        "住所",
        second,
        False,
    )
    # The JSON the screen reads agrees with the rows.
    stored = {
        b["id"]: b
        for b in page.request.get(f"{site}/contracts/{contract.pk}/boxes.json").json()["boxes"]
    }
    assert stored[name.pk]["x"] == name.x and stored[address.pk]["height"] == address.height

    assert errors == []

    # Back to the contract and send it.
    page.click("#box-back")
    page.wait_for_url(f"**/contracts/{contract.pk}/")
    page.get_by_role("button", name="送信内容を確認する").click()
    page.get_by_role("button", name="署名依頼を送信する").click()
    see(page, "署名依頼を送信しました")
    # Once sent, the placement screen only shows the boxes.
    page.goto(f"{site}/contracts/{contract.pk}/boxes/")
    page.wait_for_selector("#box-editor[data-ready='true']", state="attached")
    assert "送信済みの案件の入力欄は変更できません" in page.inner_text("#box-status")
    expect(page.locator(".kbox[data-box-id]")).to_have_count(2)
    expect(page.locator(".kpage-add")).to_have_count(0)
    assert page.locator("#box-label").is_disabled()

    for email, code, field, value in (
        ("takahashi@example.jp", "1111", f'input[name="box_{name.pk}"]', "髙橋 一郎"),
        ("sato@example.jp", "2222", f'textarea[name="box_{address.pk}"]', ADDRESS),
    ):
        party_page = browser.new_context(locale="ja-JP").new_page()
        party_page.goto(mail_link(page, site, email, "署名依頼"))
        party_page.fill("#id_code", code)
        party_page.get_by_role("button", name="確認する").click()
        party_page.wait_for_url("**/documents/")
        fill_box(party_page, field, value)
        party_page.get_by_role("button", name="内容に同意する").click()
        party_page.get_by_role("button", name="署名手続きを完了する").click()
        see(party_page, "署名手続きが完了しました")
        party_page.context.close()

    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    name.refresh_from_db()
    address.refresh_from_db()
    assert (name.value, address.value) == ("髙橋 一郎", ADDRESS)
    page.goto(f"{site}/contracts/{contract.pk}/")
    with page.expect_download() as signed:
        page.get_by_test_id("download-signed").click()
    # Line breaks and spacing in the extracted text depend on how the value wraps in its box.
    text = "".join(pdftotext(Path(signed.value.path()).read_bytes()).split())
    assert "髙橋一郎" in text
    assert "".join(ADDRESS.split()) in text
