"""The visible page (geometry.visible_page): one definition for the viewer, the page sizes,
box placement and filling. Judged by PDFium's rendering."""

from __future__ import annotations

import io
from io import BytesIO

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from keiyaku.signing import engine
from keiyaku.signing.boxes import BoxSpec, fill_box_fields
from keiyaku.signing.geometry import visible_pages
from keiyaku.signing.render import page_sizes, render_page_png
from tests.pdfs import make_pdf, pdftotext, with_page_geometry

A4 = [0, 0, 595.28, 841.89]
INNER = [30, 40, 500, 800]
# name: (with_page_geometry arguments, expected (box, rotate, user unit))
CASES = {
    "crop-box-larger-than-media-box": (
        {"mediabox": A4, "cropbox": [-20, -30, 615.28, 861.89]},
        ((0, 0, 595.28, 841.89), 0, 1.0),
    ),
    "crop-box-inside": ({"cropbox": INNER}, ((30, 40, 500, 800), 0, 1.0)),
    "crop-box-reversed": ({"cropbox": [500, 800, 30, 40]}, ((30, 40, 500, 800), 0, 1.0)),
    "rotate-90": ({"cropbox": INNER, "rotate": 90}, ((30, 40, 500, 800), 90, 1.0)),
    "rotate-180": ({"cropbox": INNER, "rotate": 180}, ((30, 40, 500, 800), 180, 1.0)),
    "rotate-270": ({"cropbox": INNER, "rotate": -90}, ((30, 40, 500, 800), 270, 1.0)),
    "inherited": (
        {
            "mediabox": [0, 0, 700, 900],
            "rotate": 270,
            "cropbox": [-10, 40, 650, 950],
            "inherited": True,
        },
        ((0, 40, 650, 900), 270, 1.0),
    ),
    "user-unit-2": ({"user_unit": 2}, ((0, 0, 595.2756, 841.8898), 0, 2.0)),
}
MARGIN = 4
TEXT = "髙橋建設㈱"


def _pdf(case: str) -> bytes:
    return with_page_geometry(make_pdf(), **CASES[case][0])


@pytest.mark.parametrize("case", CASES)
def test_visible_page_follows_the_pdf_rules(case: str) -> None:
    (page,) = visible_pages(_pdf(case))
    box, rotate, user_unit = CASES[case][1]
    assert page.box == pytest.approx(box, abs=1e-3)
    assert (page.rotate, page.user_unit) == (rotate, user_unit)


@pytest.mark.parametrize("case", CASES)
def test_page_sizes_and_page_images_agree_with_the_visible_page(case: str) -> None:
    pdf = _pdf(case)
    (page,) = visible_pages(pdf)
    width, height = page.size
    assert page_sizes(pdf) == [page.size]
    # PDFium, which draws the page images, sees the same page …
    doc = pdfium.PdfDocument(pdf)
    try:
        assert doc[0].get_size() == pytest.approx((width, height), abs=0.01)
    finally:
        doc.close()
    # … and the image has its shape.
    image = Image.open(io.BytesIO(render_page_png(pdf, 0, width_px=1000)))
    assert image.height == pytest.approx(1000 * height / width, abs=1)


def _corner_boxes(width: float, height: float) -> list[tuple[float, float, float, float]]:
    """(x, y, w, h) as displayed: a box 4 pt from each corner of the page."""
    w, h = 110.0, 20.0
    return [
        (MARGIN, MARGIN, w, h),
        (width - MARGIN - w, MARGIN, w, h),
        (MARGIN, height - MARGIN - h, w, h),
        (width - MARGIN - w, height - MARGIN - h, w, h),
    ]


@pytest.mark.parametrize("case", CASES)
def test_a_value_lands_inside_a_box_placed_at_each_corner(case: str) -> None:
    pdf = _pdf(case)
    (page,) = visible_pages(pdf)
    placed = _corner_boxes(*page.size)
    boxes = [
        BoxSpec(f"keiyaku-box-{n}", 0, page.to_user(*where), "text")
        for n, where in enumerate(placed)
    ]
    prepared = engine.prepare(pdf, field_names=["keiyaku-party-01"], boxes=boxes)
    writer = IncrementalPdfFileWriter(BytesIO(prepared))
    fill_box_fields(writer, {box.name: TEXT for box in boxes})
    out = BytesIO()
    writer.write(out)
    filled = out.getvalue()

    width_px = 1000
    scale = width_px / page.size[0]
    before, after = (
        Image.open(io.BytesIO(render_page_png(data, 0, width_px=width_px))).convert("L")
        for data in (prepared, filled)
    )
    changed = ImageChops.difference(before, after).point(lambda p: 255 if p > 64 else 0)
    for x, y, w, h in placed:
        region = tuple(round(v * scale) for v in (x, y, x + w, y + h))
        assert changed.crop(region).getbbox() is not None, (x, y)  # drawn in the box …
        changed.paste(0, region)
    assert changed.getbbox() is None, changed.getbbox()  # … and nowhere else
    assert pdftotext(filled).count(TEXT) == 4
