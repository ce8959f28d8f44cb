"""Hostile inputs beyond the findings: small files that cost a renderer or a walker far more
than their size. Every input is generated here."""

from __future__ import annotations

import io

import pikepdf

from tests.pdf_corpus import kind
from tests.pdfs import make_pdf


def form_fanout(*, fan: int, levels: int, on_annotation: bool = False) -> bytes:
    """Page 1 of a generated contract draws a form XObject that draws the one below it ``fan``
    times, ``levels`` deep: ``fan ** levels`` drawings from a few kilobytes. With
    ``on_annotation`` the chain is a Square annotation's appearance instead of page content."""
    pdf = pikepdf.open(io.BytesIO(make_pdf()))
    form = pdf.make_stream(
        b"0 0 m 1 1 l S",
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Form,
        BBox=[0, 0, 10, 10],
    )
    for _ in range(levels):
        form = pdf.make_stream(
            b"q /X Do Q " * fan,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=[0, 0, 10, 10],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(X=form)),
        )
    page = pdf.pages[0]
    if on_annotation:
        annot = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Square,
                Rect=[100, 100, 110, 110],
                AP=pikepdf.Dictionary(N=form),
            )
        )
        page.obj.Annots = pikepdf.Array([annot])
    else:
        resources = page.obj.Resources
        xobjects = resources.get("/XObject", pikepdf.Dictionary())
        xobjects.Fanout = form
        resources.XObject = xobjects
        page.contents_add(pdf.make_stream(b"q /Fanout Do Q"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@kind(
    "form_xobject_fanout",
    expect="refuse",
    refusal_code="too_many_drawings",
    about="a 3 KB page whose form XObjects draw each other 12 times, 9 levels deep (5 billion "
    "drawings): PDFium expanded them all when loading the page, 5 GB and minutes in the web "
    "process",
)
def form_xobject_fanout() -> bytes:
    return form_fanout(fan=12, levels=9)
