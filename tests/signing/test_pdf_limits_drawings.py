"""Form XObjects drawn inside each other are counted at ingest (``too_many_drawings``): a few
kilobytes that PDFium would expand into billions of drawings when it loads the page."""

from __future__ import annotations

import io
import resource
import time

import pikepdf
import pytest

from keiyaku.signing.ingest import RefusedUpload, ingest_pdf
from keiyaku.signing.pdf_limits import PdfLimits, check_limits
from tests.pdf_corpus.hostile import form_fanout
from tests.pdfs import make_pdf

LIMIT = 20 * 1024 * 1024


def _limits(draws: int) -> PdfLimits:
    return PdfLimits(
        max_pages=10,
        max_page_points=14400,
        max_stream_bytes=LIMIT,
        max_decoded_bytes=LIMIT,
        max_form_draws=draws,
    )


def _check(data: bytes, draws: int) -> None:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        check_limits(pdf, limits=_limits(draws))


def test_a_fanout_of_five_billion_is_refused_at_once() -> None:
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(RefusedUpload) as caught:
        ingest_pdf(form_fanout(fan=12, levels=9), max_bytes=LIMIT)
    assert caught.value.code == "too_many_drawings"
    assert "1 ページ目" in str(caught.value.message)
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB


@pytest.mark.parametrize("on_annotation", [False, True], ids=["content", "appearance"])
def test_drawings_are_counted_through_every_level(on_annotation: bool) -> None:
    # 10 × 10 × 10 forms below one: 1 + 10 + 100 + 1000 drawings.
    data = form_fanout(fan=10, levels=3, on_annotation=on_annotation)
    _check(data, 1111)
    with pytest.raises(RefusedUpload) as caught:
        _check(data, 1110)
    assert caught.value.code == "too_many_drawings"


def test_a_form_without_resources_draws_with_its_callers() -> None:
    pdf = pikepdf.open(io.BytesIO(make_pdf()))
    leaf = pdf.make_stream(b"0 0 m 1 1 l S", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form)
    # No /Resources: /L is looked up in the page's resources (older writers rely on this).
    middle = pdf.make_stream(
        b"/L Do " * 50, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 1, 1]
    )
    page = pdf.pages[0]
    xobjects = page.obj.Resources.get("/XObject", pikepdf.Dictionary())
    xobjects.L = leaf
    xobjects.M = middle
    page.obj.Resources.XObject = xobjects
    page.contents_add(pdf.make_stream(b"/M Do " * 50))
    out = io.BytesIO()
    pdf.save(out)
    _check(out.getvalue(), 50 + 50 * 50)
    with pytest.raises(RefusedUpload):
        _check(out.getvalue(), 50 + 50 * 50 - 1)


def test_a_form_that_draws_itself_is_counted_once() -> None:
    pdf = pikepdf.open(io.BytesIO(make_pdf()))
    loop = pdf.make_stream(b"/Me Do /Me Do", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form)
    loop.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Me=loop))
    page = pdf.pages[0]
    xobjects = page.obj.Resources.get("/XObject", pikepdf.Dictionary())
    xobjects.Me = loop
    page.obj.Resources.XObject = xobjects
    page.contents_add(pdf.make_stream(b"/Me Do"))
    out = io.BytesIO()
    pdf.save(out)
    _check(out.getvalue(), 3)
