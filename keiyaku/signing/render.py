"""Page images and page geometry with pypdfium2, for the viewer and box placement.

Sizes are those of `keiyaku.signing.geometry.visible_page` (the crop box clipped to the media
box, width and height swapped for /Rotate 90 or 270); PDFium draws exactly that part of the
page. PDFium is not thread-safe, so every call holds one process-wide lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2 as pdfium

from keiyaku.signing.geometry import visible_pages

_PDFIUM_LOCK = threading.Lock()


@contextmanager
def _document(pdf: bytes, *, forms: bool = False) -> Iterator[pdfium.PdfDocument]:
    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            if forms:
                # Must happen before any page is loaded, or form fields are not drawn.
                doc.init_forms()
            yield doc
        finally:
            doc.close()


def page_count(pdf: bytes) -> int:
    with _document(pdf) as doc:
        return len(doc)


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) of every page as displayed (see `geometry.visible_page`).

    Also opens the file with PDFium, so a file PDFium cannot read raises here.
    """
    pages = visible_pages(pdf)
    if page_count(pdf) != len(pages):
        raise ValueError("PDFium and qpdf disagree on the number of pages")
    return [page.size for page in pages]


def render_page_png(pdf: bytes, page_index: int, *, width_px: int = 1100) -> bytes:
    """PNG of one page, ``width_px`` wide, with form fields and annotations drawn.

    Raises IndexError for a page that does not exist.
    """
    if width_px < 1:
        raise ValueError("width_px must be positive")
    with _document(pdf, forms=True) as doc:
        if not 0 <= page_index < len(doc):
            raise IndexError(f"page {page_index} out of range (0..{len(doc) - 1})")
        page = doc[page_index]
        try:
            width, _ = page.get_size()
            # pypdfium2 rounds the bitmap size up; shave a hair so it is exactly width_px.
            scale = width_px / width * (1 - 1e-9)
            bitmap = page.render(scale=scale, may_draw_forms=True)
            image = bitmap.to_pil()
        finally:
            page.close()
    if image.width != width_px:
        image = image.resize((width_px, max(1, round(image.height * width_px / image.width))))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
