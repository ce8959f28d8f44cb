import io

import pikepdf
import pytest
from PIL import Image
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from keiyaku.signing.render import page_count, page_sizes, render_page_png
from tests.pdfs import make_pdf


def _rotate_page(pdf: bytes, index: int, angle: int) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.pages[index].Rotate = angle
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def test_page_count():
    assert page_count(make_pdf(pages=3)) == 3


def test_page_sizes_are_as_displayed():
    pdf = _rotate_page(make_pdf(pages=2), 1, 90)
    (w0, h0), (w1, h1) = page_sizes(pdf)
    assert (round(w0), round(h0)) == (595, 842)
    assert (round(w1), round(h1)) == (842, 595)


@pytest.mark.parametrize("width", [1100, 333, 1234])
def test_png_has_the_requested_width(width):
    png = render_page_png(make_pdf(pages=2), 1, width_px=width)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.width == width
    assert image.height == pytest.approx(width * 842 / 595, abs=2)


def test_default_width_is_1100_and_page_has_ink():
    image = Image.open(io.BytesIO(render_page_png(make_pdf(), 0))).convert("L")
    assert image.width == 1100
    assert image.getextrema()[0] < 100  # some dark pixels: the text was drawn


@pytest.mark.parametrize("index", [-1, 2, 99])
def test_bad_page_index_raises_index_error(index):
    with pytest.raises(IndexError):
        render_page_png(make_pdf(pages=2), index)


def _pdf_with_field_without_appearance() -> bytes:
    """A filled text field whose appearance the viewer must generate (no /AP)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.acroForm.textfield(
        name="agreed",
        value="XXXXXXXX",
        x=100,
        y=600,
        width=200,
        height=40,
        fontSize=30,
        borderWidth=0,
        fillColor=colors.white,
        textColor=colors.black,
    )
    c.showPage()
    c.save()
    with pikepdf.open(io.BytesIO(buf.getvalue())) as doc:
        for annot in doc.pages[0].Annots:
            del annot["/AP"]
        doc.Root.AcroForm.NeedAppearances = True
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def test_form_fields_are_drawn():
    png = render_page_png(_pdf_with_field_without_appearance(), 0, width_px=595)
    image = Image.open(io.BytesIO(png)).convert("L")
    # The field is at x 100..300, y 600..640 from the bottom; its text only appears when
    # PDFium's form environment draws it.
    darkest, _ = image.crop((100, 842 - 640, 300, 842 - 600)).getextrema()
    assert darkest < 50
