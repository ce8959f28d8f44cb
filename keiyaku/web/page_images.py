"""Page images for the screens, rendered once per stored version, page and width.

A document page is requested page by page (and again on every visit); without this each
request would decrypt and parse the whole PDF. Stored versions never change, so an image is
keyed by the blob it was rendered from. The cache lives in this process's memory only: images
of contracts are never written to a shared cache in clear.

Widths (issue 10, finding 5): a phone shows a page about 370 CSS px wide at 3 device pixels per
CSS pixel, a desktop about 900 px at 1, the placement screen up to 1600 px at 200 %. The screens
offer the browser a ``srcset`` of a few fixed widths and it picks the one that is sharp at its
device pixel ratio. Only these widths are rendered, never one a request names freely, so the
work per request and the cache stay bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from keiyaku.ascii_digits import ascii_int
from keiyaku.signing.render import render_page_png
from keiyaku.storage.blobs import blob_get
from keiyaku.storage.models import Blob

PAGE_IMAGE_WIDTHS = (800, 1600, 2400)
"""The widths in px a page image is rendered at: the ``w`` a page-image URL accepts."""
DEFAULT_WIDTH = 1600
"""The width of a page-image URL without ``w`` (the ``src`` beside the ``srcset``)."""
MAX_IMAGES = 64
MAX_BYTES = 48 * 1024 * 1024  # a 2400 px page is 0.2–1 MB of PNG

_images: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
_bytes = 0
_lock = threading.Lock()


def requested_width(raw: str | None) -> int | None:
    """The width in px a page-image request asks for: ``raw`` is the ``w`` query parameter
    (None when absent, giving DEFAULT_WIDTH). None when it is not one of PAGE_IMAGE_WIDTHS;
    the view answers 404 then, as for a page that does not exist."""
    if raw is None:
        return DEFAULT_WIDTH
    width = ascii_int(raw)
    return width if width in PAGE_IMAGE_WIDTHS else None


def page_srcset(url: str) -> str:
    """The ``srcset`` of a page image at ``url`` (a path without a query): one candidate per
    width in PAGE_IMAGE_WIDTHS, as ``<url>?w=<px> <px>w``."""
    return ", ".join(f"{url}?w={width} {width}w" for width in PAGE_IMAGE_WIDTHS)


def page_png(blob: Blob, page_index: int, width_px: int = DEFAULT_WIDTH) -> bytes:
    """PNG of page ``page_index`` (0-based) of the PDF in ``blob``, ``width_px`` wide (one of
    PAGE_IMAGE_WIDTHS; the renderer may scale a very large page down further).

    Raises ValueError for another width, IndexError for a page the PDF does not have.
    """
    global _bytes
    if width_px not in PAGE_IMAGE_WIDTHS:
        raise ValueError(f"width_px must be one of {PAGE_IMAGE_WIDTHS}")
    key = (str(blob.pk), page_index, width_px)
    with _lock:
        if key in _images:
            _images.move_to_end(key)
            return _images[key]
    png = render_page_png(blob_get(blob), page_index, width_px=width_px)
    with _lock:
        if key not in _images:
            _images[key] = png
            _bytes += len(png)
        while _images and (len(_images) > MAX_IMAGES or _bytes > MAX_BYTES):
            _, dropped = _images.popitem(last=False)
            _bytes -= len(dropped)
    return png
