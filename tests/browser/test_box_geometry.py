"""Issue 10, finding 5 and acceptance 3: boxes on a phone.

A counterparty's inputs must sit exactly on the boxes staff placed (within 2 px of the box's
rectangle computed from its PDF points on the page image), at every width and zoom; every tap
target is at least 44 px tall (a box smaller than that on screen opens an input sheet with a
44 px input); labels do not cover the document; the page images are sharp at the device's pixel
ratio; the documents and confirmation pages never scroll sideways. Then the values typed on a
phone land in their boxes in the signed PDF, and on the staff placement screen a box drawn with
the mouse appears where it was drawn.

Measured in Chromium with Playwright's device emulation: 390×844 and 360×740 phones (touch,
device pixel ratio 3), a 1280×800 desktop, and 200 % browser zoom (what Chromium does at 200 %
on a 1280×800 window: a 640×400 CSS-pixel viewport at device pixel ratio 2).
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import expect

from keiyaku.contracts import services
from keiyaku.contracts.models import Box, BoxKind, Contract, ContractStatus, VersionKind
from keiyaku.contracts.selectors import document_page_sizes
from keiyaku.contracts.services.boxes import box_create
from keiyaku.contracts.services.drafting import Upload
from keiyaku.signing.render import render_page_png
from keiyaku.storage.blobs import blob_get
from tests.browser.helpers import login, see
from tests.browser.screenshots import manual_screenshot
from tests.flow import External, last_link
from tests.pdfs import make_pdf, with_page_geometry

# Layout in the browser and ink in the PDF: the same on any database engine.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.database_independent,
]

PARTY = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
PHONE = {"is_mobile": True, "has_touch": True, "device_scale_factor": 3}
DEVICES = {
    "phone-390x844": {"viewport": {"width": 390, "height": 844}, **PHONE},
    "phone-360x740": {"viewport": {"width": 360, "height": 740}, **PHONE},
    "desktop-1280x800": {"viewport": {"width": 1280, "height": 800}},
    # Browser zoom 200 % on a 1280×800 window: CSS pixels twice as large, half as many.
    "zoom-200": {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2},
}
TOLERANCE = 2  # px
TAP = 44  # px: the smallest tap target

# (kind, x, y, width, height) of a cluster of boxes in points, from its top-left corner.
CLUSTER = (
    (BoxKind.TEXT, 0, 0, 110, 18),
    (BoxKind.CHECKBOX, 118, 0, 12, 12),
    (BoxKind.DATE, 0, 24, 110, 18),
    (BoxKind.MULTILINE, 0, 48, 130, 40),
)
CLUSTER_SIZE = (130, 88)
MARGIN = 4  # pt from the page's edges, as in finding 1
VALUES = {
    BoxKind.TEXT: "髙橋建設",
    BoxKind.DATE: "2026-12-01",
    BoxKind.MULTILINE: "札幌市中央区\n北1条西2丁目",
    BoxKind.CHECKBOX: "1",
}
# A4 with the crop box moved off the origin and turned a quarter: displayed 760 × 470 pt.
ODD = {"cropbox": [30, 40, 500, 800], "rotate": 90}


def clusters(width: float, height: float) -> list[tuple[str, float, float, float, float]]:
    """Every box kind near each corner of a page (the cluster mirrored into the corner, so a
    different kind touches each edge) and in its middle."""
    cw, ch = CLUSTER_SIZE
    boxes = []
    for right, bottom in ((False, False), (True, False), (False, True), (True, True)):
        for kind, x, y, w, h in CLUSTER:
            bx = width - MARGIN - x - w if right else MARGIN + x
            by = height - MARGIN - y - h if bottom else MARGIN + y
            boxes.append((kind, bx, by, w, h))
    for kind, x, y, w, h in CLUSTER:
        boxes.append((kind, (width - cw) / 2 + x, (height - ch) / 2 + y, w, h))
    return boxes


def draft(personas) -> tuple[Contract, object]:
    """A draft with an ordinary A4 document and one with an odd page geometry, and the
    counterparty; returns it and the party."""
    contract = services.contract_create(
        actor=personas.sender,
        title="令和8年度 清掃業務委託契約",
        uploads=[
            Upload(filename="委託契約書.pdf", data=make_pdf(pages=2)),
            Upload(filename="仕様書（横向き）.pdf", data=with_page_geometry(make_pdf(), **ODD)),
        ],
    )
    party = services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=PARTY.company,
        name=PARTY.name,
        email=PARTY.email,
        access_code=PARTY.code,
    )
    return contract, party


def send_contract(personas) -> Contract:
    """A sent draft (see draft()) with boxes of every kind near each corner and in the middle of
    page 1 of both documents, all the counterparty's."""
    contract, party = draft(personas)
    for document in contract.documents.order_by("position"):
        width, height = document_page_sizes(document)[0]
        for n, (kind, x, y, w, h) in enumerate(clusters(width, height), start=1):
            box_create(
                document=document,
                actor=personas.sender,
                data={
                    "page": 1,
                    "x": x,
                    "y": y,
                    "width": w,
                    "height": h,
                    "party": party.pk,
                    "required": False,
                    "kind": kind,
                    "label": f"{document.position}-{n} {BoxKind(kind).label}",
                },
            )
    services.contract_send(contract=contract, actor=personas.sender)
    return contract


def script_errors(page) -> list[str]:
    """Script errors and Content-Security-Policy refusals on the page, as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    return errors


def open_documents(browser, site: str, device: str):
    """The counterparty's documents page on `device`, reached through its e-mailed link and
    access code; returns the page and the list its script errors go to."""
    context = browser.new_context(locale="ja-JP", **DEVICES[device])
    page = context.new_page()
    errors = script_errors(page)
    page.goto(site + last_link(PARTY.email))
    page.fill("#id_code", PARTY.code)
    page.get_by_role("button", name="確認する").click()
    page.wait_for_url("**/documents/")
    return page, errors


# Every own box on the visible document: its input's rectangle, the rectangle its PDF points
# give on the page image's content box, whether it is filled in the input sheet, and the pixel
# width of the page image the browser chose (an image without srcset, to read its real size).
MEASURE = """
async (boxes) => {
  const out = [];
  for (const box of boxes) {
    const input = document.querySelector(`[name="box_${box.id}"]`);
    if (!input || !input.offsetParent) continue;  // on a hidden tab
    input.scrollIntoView({block: "center", inline: "center"});
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const img = input.closest(".kpage-sign").querySelector("img");
    const ir = img.getBoundingClientRect();
    const left = ir.left + img.clientLeft, top = ir.top + img.clientTop;
    const sx = img.clientWidth / box.pageWidth, sy = img.clientHeight / box.pageHeight;
    const want = {left: left + box.x * sx, top: top + box.y * sy,
                  right: left + (box.x + box.width) * sx, bottom: top + (box.y + box.height) * sy};
    const probe = new Image();
    probe.src = img.currentSrc;
    await probe.decode();
    const r = input.getBoundingClientRect();
    const owner = input.closest(".kbox-input");
    out.push({id: box.id, kind: box.kind, want,
              got: {left: r.left, top: r.top, right: r.right, bottom: r.bottom},
              height: r.height, bySheet: !!owner && owner.classList.contains("by-sheet"),
              image: {css: img.clientWidth, pixels: probe.naturalWidth, dpr: devicePixelRatio}});
  }
  return out;
}
"""


def box_rows(contract: Contract) -> list[dict]:
    rows = []
    for document in contract.documents.order_by("position"):
        sizes = document_page_sizes(document)
        for box in Box.objects.filter(document=document).order_by("pk"):
            width, height = sizes[box.page - 1]
            rows.append(
                {
                    "id": box.pk,
                    "document": document.pk,
                    "kind": box.kind,
                    "label": box.label,
                    "x": box.x,
                    "y": box.y,
                    "width": box.width,
                    "height": box.height,
                    "pageWidth": width,
                    "pageHeight": height,
                }
            )
    return rows


def offset(row: dict) -> float:
    return max(abs(row["got"][k] - row["want"][k]) for k in ("left", "top", "right", "bottom"))


def summary(rows: list[dict]) -> str:
    """What a failure prints: per kind, the worst offset and the smallest input; the images."""
    lines = []
    for kind in BoxKind.values:
        mine = [r for r in rows if r["kind"] == kind]
        worst = max(mine, key=offset)
        lines.append(
            f"{kind}: worst offset {offset(worst):.1f} px (box {worst['id']}: top "
            f"{worst['got']['top'] - worst['want']['top']:+.1f}, left "
            f"{worst['got']['left'] - worst['want']['left']:+.1f}), input "
            f"{min(r['height'] for r in mine):.1f}-{max(r['height'] for r in mine):.1f} px "
            f"tall, by sheet {sum(r['bySheet'] for r in mine)}/{len(mine)}"
        )
    images = sorted({(r["image"]["pixels"], r["image"]["css"], r["image"]["dpr"]) for r in rows})
    lines += [f"image {px} px wide shown {css} css px at dpr {dpr}" for px, css, dpr in images]
    return "\n".join(lines)


def measure_documents(page, contract: Contract) -> list[dict]:
    """Measure every box of every document, switching the document tabs as a party does."""
    rows = box_rows(contract)
    measured = []
    for document in contract.documents.order_by("position"):
        page.locator(f'.tabs a[href="?doc={document.pk}"]').click()
        expect(page.locator(f"#doc-{document.pk}")).to_be_visible()
        # Every page image of the document loaded (they load lazily, so bring each on screen).
        for img in page.locator(f"#doc-{document.pk} .kpage-sign img").all():
            img.scroll_into_view_if_needed()
            page.wait_for_function(
                "(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle()
            )
        mine = [r for r in rows if r["document"] == document.pk]
        measured += page.evaluate(MEASURE, mine)
    assert len(measured) == len(rows)
    return measured


def no_sideways_scroll(page) -> tuple[int, int]:
    """The page's scroll width and the viewport's width in CSS px. Not window.innerWidth: a
    phone widens its layout viewport to content that overflows, so that would grow with it."""
    return page.evaluate("document.documentElement.scrollWidth"), page.viewport_size["width"]


def sheet_or_inline(page, box_id: int):
    """Tap a box; the input to type into (the sheet's when one opened, else the box's own) and
    whether it is the sheet's."""
    own = page.locator(f'[name="box_{box_id}"]')
    tap(page, own)
    sheet = page.locator("#box-sheet")
    if sheet.is_visible():
        return sheet.locator(".box-sheet-input"), True
    return own, False


def tap(page, locator) -> None:
    """A finger's tap on a touch screen, a click elsewhere."""
    if page.evaluate("matchMedia('(pointer: coarse)').matches"):
        locator.tap()
    else:
        locator.click()


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_inputs_sit_on_their_boxes_and_are_big_enough_to_tap(browser, site, personas, device: str):
    contract = send_contract(personas)
    page, errors = open_documents(browser, site, device)

    rows = measure_documents(page, contract)
    report = f"[{device}]\n{summary(rows)}"
    # On its box, within 2 px on every side, for every kind, corner and page geometry.
    assert max(offset(r) for r in rows) <= TOLERANCE, report
    # Sharp: at least one image pixel per device pixel.
    for r in rows:
        image = r["image"]
        assert image["pixels"] >= image["css"] * image["dpr"], report
    # A box shorter than a tap target is filled in the sheet.
    assert all(r["bySheet"] for r in rows if r["height"] < TAP), report
    assert all(not r["bySheet"] for r in rows if r["height"] >= TAP + 1), report
    scroll, width = no_sideways_scroll(page)
    assert scroll <= width, (scroll, width)

    # A tap on each such box opens the sheet for that box: its label, an input at least 44 px
    # tall, no sideways scroll. Then OK puts a value typed in the sheet into its box.
    sheet = page.locator("#box-sheet")
    for document in contract.documents.order_by("position"):
        page.locator(f'.tabs a[href="?doc={document.pk}"]').click()
        for box in Box.objects.filter(document=document).order_by("pk"):
            row = next(r for r in rows if r["id"] == box.pk)
            if not row["bySheet"]:
                continue
            tap(page, page.locator(f'[name="box_{box.pk}"]'))
            expect(sheet).to_be_visible()
            expect(page.locator("#box-sheet-label")).to_have_text(box.label)
            field = sheet.locator(".box-sheet-input")
            assert field.bounding_box()["height"] >= TAP, (device, box.label)
            assert no_sideways_scroll(page)[0] <= width
            page.locator("#box-sheet-cancel").click()
            expect(sheet).to_be_hidden()
    small = next(r for r in rows if r["kind"] == BoxKind.TEXT and r["bySheet"])
    own = page.locator(f'[name="box_{small["id"]}"]')
    page.locator(f'.tabs a[href="?doc={Box.objects.get(pk=small["id"]).document_id}"]').click()
    tap(page, own)
    sheet.locator(".box-sheet-input").fill("髙橋")
    page.locator("#box-sheet-ok").click()
    expect(sheet).to_be_hidden()
    expect(own).to_have_value("髙橋")

    # Labels never lie over the page: no label chip is shown on a placed page.
    covering = page.evaluate(
        """[...document.querySelectorAll('.kpage-sign .kbox-label')]
             .filter((el) => el.getClientRects().length > 0).length"""
    )
    assert covering == 0

    # The confirmation page does not scroll sideways either.
    page.get_by_role("button", name="内容に同意する").click()
    page.wait_for_url("**/confirm/")
    see(page, "髙橋")
    scroll, width = no_sideways_scroll(page)
    assert scroll <= width, (scroll, width)
    assert errors == []
    page.context.close()


def test_values_typed_on_a_phone_land_in_their_boxes(browser, site, personas):
    contract = send_contract(personas)
    page, errors = open_documents(browser, site, "phone-390x844")
    rows = box_rows(contract)
    sheet = page.locator("#box-sheet")
    for document in contract.documents.order_by("position"):
        page.locator(f'.tabs a[href="?doc={document.pk}"]').click()
        # Tap the first box; the sheet's 次の入力欄 then goes through the others in reading order.
        mine = sorted(
            (r for r in rows if r["document"] == document.pk), key=lambda r: (r["y"], r["x"])
        )
        _, in_sheet = sheet_or_inline(page, mine[0]["id"])
        assert in_sheet  # on a phone even the 40 pt boxes are smaller than a fingertip
        for n, row in enumerate(mine):
            expect(page.locator("#box-sheet-label")).to_have_text(row["label"])
            field = sheet.locator(".box-sheet-input")
            assert field.bounding_box()["height"] >= TAP
            if row["kind"] == BoxKind.CHECKBOX:
                field.check()
            else:
                field.fill(VALUES[row["kind"]])
            if n == 0:
                manual_screenshot(page, "guide-fill")
            if n < len(mine) - 1:
                page.locator("#box-sheet-next").click()
        expect(page.locator("#box-sheet-next")).to_be_disabled()
        page.locator("#box-sheet-ok").click()
        expect(sheet).to_be_hidden()
        for row in mine:
            own = page.locator(f'[name="box_{row["id"]}"]')
            if row["kind"] == BoxKind.CHECKBOX:
                expect(own).to_be_checked()
            else:
                expect(own).to_have_value(VALUES[row["kind"]])

    page.get_by_role("button", name="内容に同意する").click()
    page.wait_for_url("**/confirm/")
    scroll, width = no_sideways_scroll(page)
    assert scroll <= width
    page.get_by_role("button", name="署名手続きを完了する").click()
    see(page, "署名手続きが完了しました")
    assert errors == []
    page.context.close()

    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    for document in contract.documents.order_by("position"):
        prepared = document.versions.get(kind=VersionKind.PREPARED)
        final = document.current_version()
        page_width, page_height = document_page_sizes(document)[0]
        width_px = round(page_width * 2)
        before = _image(blob_get(prepared.blob), width_px)
        after = _image(blob_get(final.blob), width_px)
        scale = before.width / page_width
        changed = ImageChops.difference(before, after).point(lambda p: 255 if p > 64 else 0)
        for row in (r for r in rows if r["document"] == document.pk):
            region = (
                round(row["x"] * scale),
                round(row["y"] * scale),
                round((row["x"] + row["width"]) * scale),
                round((row["y"] + row["height"]) * scale),
            )
            assert changed.crop(region).getbbox() is not None, (document.filename, row)
            changed.paste(0, region)
        # The values are inside their boxes and nowhere else.
        assert changed.getbbox() is None, (document.filename, changed.getbbox())


def _image(pdf: bytes, width_px: int) -> Image.Image:
    return Image.open(io.BytesIO(render_page_png(pdf, 0, width_px=width_px))).convert("L")


# The staff placement screen ------------------------------------------------------------------

PLACEMENT_RECT = """
(el) => {
  const page = el.closest(".kpage");
  const img = page.querySelector("img");
  const r = el.getBoundingClientRect(), ir = img.getBoundingClientRect();
  return {box: {left: r.left, top: r.top, right: r.right, bottom: r.bottom},
          image: {left: ir.left + img.clientLeft, top: ir.top + img.clientTop,
                  width: img.clientWidth, height: img.clientHeight}};
}
"""

IMAGE_PIXELS = """
async (img) => {
  await new Promise((r) => (img.complete && img.naturalWidth ? r() : img.addEventListener("load", r)));
  const probe = new Image();
  probe.src = img.currentSrc;
  await probe.decode();
  return {pixels: probe.naturalWidth, css: img.clientWidth, dpr: devicePixelRatio};
}
"""


def on_screen(locator, stored: dict, page_size: tuple[float, float]) -> float:
    """How far (px, the worst side) a box element lies from where its stored points put it on
    its page image."""
    measured = locator.evaluate(PLACEMENT_RECT)
    image, got = measured["image"], measured["box"]
    sx, sy = image["width"] / page_size[0], image["height"] / page_size[1]
    want = {
        "left": image["left"] + stored["x"] * sx,
        "top": image["top"] + stored["y"] * sy,
        "right": image["left"] + (stored["x"] + stored["width"]) * sx,
        "bottom": image["top"] + (stored["y"] + stored["height"]) * sy,
    }
    return max(abs(got[k] - want[k]) for k in want)


def test_a_box_placed_by_staff_appears_where_it_was_put(browser, site, personas):
    contract, party = draft(personas)
    context = browser.new_context(locale="ja-JP", **DEVICES["desktop-1280x800"])
    page = context.new_page()
    errors = script_errors(page)
    login(page, site, "sender", personas.password, wait=True)
    page.goto(f"{site}/contracts/{contract.pk}/boxes/")
    page.wait_for_selector("#box-editor[data-ready='true']", state="attached")

    measured = []
    for document in contract.documents.order_by("position"):
        size = document_page_sizes(document)[0]
        kpage = page.locator(f'.kpage[data-document="{document.pk}"][data-page="1"]')
        # Draw a box near the bottom-right corner with the mouse …
        x, y, w, h = size[0] - 150, size[1] - 40, 120, 24
        kpage.evaluate(
            "(el, y) => window.scrollBy(0, el.getBoundingClientRect().top + y - 400)",
            y * kpage.bounding_box()["width"] / size[0],
        )
        frame = kpage.bounding_box()
        scale = frame["width"] / size[0]
        start = (frame["x"] + x * scale, frame["y"] + y * scale)
        end = (start[0] + w * scale, start[1] + h * scale)
        with page.expect_response(
            lambda r: r.url.endswith("/boxes.json") and r.status == 201
        ) as made:
            page.mouse.move(*start)
            page.mouse.down()
            page.mouse.move(*end, steps=8)
            page.mouse.up()
        stored = made.value.json()
        assert (stored["x"], stored["y"]) == (pytest.approx(x, abs=1), pytest.approx(y, abs=1))
        element = page.locator(f'.kbox[data-box-id="{stored["id"]}"]')
        drawn = element.bounding_box()
        # … it lies under the mouse's path and on its stored points.
        assert abs(drawn["x"] - start[0]) <= TOLERANCE and abs(drawn["y"] - start[1]) <= TOLERANCE
        measured.append(("drawn", on_screen(element, stored, size)))
        # Drag it 60 × 30 px up and left: it moves with the mouse, and its points with it.
        grab = (drawn["x"] + drawn["width"] / 2, drawn["y"] + drawn["height"] / 2)
        with page.expect_response(lambda r: r.request.method == "PATCH") as moved:
            page.mouse.move(*grab)
            page.mouse.down()
            page.mouse.move(grab[0] - 60, grab[1] - 30, steps=8)
            page.mouse.up()
        stored = moved.value.json()
        dropped = element.bounding_box()
        assert abs(dropped["x"] - (drawn["x"] - 60)) <= TOLERANCE
        assert abs(dropped["y"] - (drawn["y"] - 30)) <= TOLERANCE
        measured.append(("dragged", on_screen(element, stored, size)))
        # At the screen's 200 % it is still on its place, and the page image is sharp.
        page.click("#zoom-in")
        page.click("#zoom-in")
        page.click("#zoom-in")
        page.click("#zoom-in")
        assert page.inner_text("#zoom-level") == "200%"
        kpage.scroll_into_view_if_needed()
        measured.append(("200 %", on_screen(element, stored, size)))
        image = kpage.locator("img").evaluate(IMAGE_PIXELS)
        assert image["pixels"] >= image["css"] * image["dpr"], (document.filename, image)
        for _ in range(4):
            page.click("#zoom-out")
        assert page.inner_text("#zoom-level") == "100%"
    assert max(offset for _, offset in measured) <= TOLERANCE, measured
    assert errors == []
    context.close()
