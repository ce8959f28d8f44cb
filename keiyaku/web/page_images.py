"""Page images for the screens, rendered once per stored version, page and width (issue 12).

A document page is requested page by page, by every party and on every visit. Stored versions
never change, so an image is computed once per (version's SHA-256, page, width) and kept:

1. in this process's memory (an LRU within ``KEIYAKU_PAGE_IMAGE_CACHE_MB``), then
2. in the object store as a derived object (`keiyaku.storage.blobs.derived_put`): sealed with
   the contract's own data key, under a name made of the key ring, the version's SHA-256, the
   page, the width and the encoder. Every web process, and every process after a restart,
   finds it there and serves it without reading, decrypting or parsing the PDF.

Only a miss in both renders. Concurrent first requests for one image render it once: the
threads of one process wait on a per-image lock, processes take a lease in Django's cache
(Redis in production, so shared; per process otherwise) and the others wait for the stored
object; the write-once put is the last guard (the first object stored wins, a loser serves it).

Encoding (bench/page_encoders.py; table in docs/architecture.md, "Page images"): JPEG at
`keiyaku.signing.render.JPEG_QUALITY`, 4:4:4, which keeps 6 pt Japanese text as legible as
lossless PNG and encodes 5–20 × faster; PNG compression had been 85–95 % of a miss.

Widths (issue 10, finding 5): a phone shows a page about 370 CSS px wide at 3 device pixels per
CSS pixel, a desktop about 900 px at 1, the placement screen up to 1600 px at 200 %. The screens
offer the browser a ``srcset`` of a few fixed widths and it picks the one that is sharp at its
device pixel ratio. Only these widths are rendered, never one a request names freely, so the
work per request and what is stored stay bounded.

Browser caching: an image URL names the version it shows (``v``, `version_tag`), so the same
URL always means the same bytes and is sent as immutable (`keiyaku.web.views.responses`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from keiyaku.ascii_digits import ascii_int
from keiyaku.signing.render import JPEG_QUALITY, page_jpeg, render_page_bitmap
from keiyaku.storage.blobs import blob_get, derived_get, derived_put
from keiyaku.storage.models import Blob

PAGE_IMAGE_WIDTHS = (800, 1600, 2400)
"""The widths in px a page image is rendered at: the ``w`` a page-image URL accepts."""
DEFAULT_WIDTH = 1600
"""The width of a page-image URL without ``w`` (the ``src`` beside the ``srcset``)."""
LOG_STEP_BYTES = 1024 * 1024
"""The memory cache's fill is logged each time it has moved this far (or a tenth of its bound,
if less) since it was last logged: `cache_fill`."""
LEASE_SECONDS = 30
"""How long another process waits for an image one process is rendering, at most, before it
renders the image itself (a render takes 0.05–0.5 s; the lease outlives a crashed renderer)."""
_ENCODING = f"q{JPEG_QUALITY}.jpg"

logger = logging.getLogger(__name__)

_images: OrderedDict[tuple[str, str, int, int], PageImage] = OrderedDict()
_bytes = 0
_logged_bytes = 0
_lock = threading.Lock()
_rendering: dict[tuple[str, str, int, int], threading.Lock] = {}


@dataclass(frozen=True)
class PageImage:
    """An encoded page image."""

    data: bytes
    """The JPEG file."""
    etag: str
    """SHA-256 of ``data`` (hex): the HTTP entity tag."""
    content_type: str = "image/jpeg"


def requested_width(raw: str | None) -> int | None:
    """The width in px a page-image request asks for: ``raw`` is the ``w`` query parameter
    (None when absent, giving DEFAULT_WIDTH). None when it is not one of PAGE_IMAGE_WIDTHS;
    the view answers 404 then, as for a page that does not exist."""
    if raw is None:
        return DEFAULT_WIDTH
    width = ascii_int(raw)
    return width if width in PAGE_IMAGE_WIDTHS else None


def version_tag(blob: Blob) -> str:
    """What a page-image URL names its version by (``v``): the first 16 hex digits of the
    stored version's SHA-256. A new version gives new URLs, so a browser never keeps showing
    an image of an earlier one."""
    return blob.sha256[:16]


def page_url(url: str, blob: Blob) -> str:
    """The page image at ``url`` (a path without a query) of the version in ``blob``, at
    DEFAULT_WIDTH: ``<url>?v=<version_tag>``."""
    return f"{url}?v={version_tag(blob)}"


def page_srcset(url: str, blob: Blob) -> str:
    """The ``srcset`` of the page image at ``url`` (a path without a query) of the version in
    ``blob``: one candidate per width in PAGE_IMAGE_WIDTHS, as ``<url>?v=<tag>&w=<px> <px>w``."""
    tag = version_tag(blob)
    return ", ".join(f"{url}?v={tag}&w={width} {width}w" for width in PAGE_IMAGE_WIDTHS)


def _label(page_index: int, width_px: int) -> str:
    return f"page-{page_index + 1}-w{width_px}-{_ENCODING}"


def cache_limit() -> int:
    """The bound of this process's memory cache in bytes: ``KEIYAKU_PAGE_IMAGE_CACHE_MB``
    (default 48). The object store is the shared cache; this one spares the hottest pages a
    read and an AES-GCM open. Measured with bench/web.py (200 page images of 1,600 px in turn,
    38 MB): 28–50 requests/s at 48 MB, 17–28 at 8 MB, where every image was read from the
    store again (an LRU read in turn keeps nothing once the turn is longer than it holds)."""
    return int(settings.KEIYAKU_PAGE_IMAGE_CACHE_BYTES)


@dataclass(frozen=True)
class CacheFill:
    """What this process's memory cache holds."""

    images: int
    held_bytes: int
    """The encoded images' bytes (the Python objects around them add about 0.1 KB each)."""
    limit_bytes: int
    """`cache_limit`."""


def cache_fill() -> CacheFill:
    """What this process's memory cache holds now. Also logged (INFO, ``keiyaku.web.page_images``)
    as 「page images in memory (process <pid>): <n> images, <bytes> bytes of <limit>」 each time
    the fill has moved by LOG_STEP_BYTES: the cache is part of a web process's resident memory
    up to its bound, and an operator (or bench/memory.py) tells it apart from a leak by it."""
    with _lock:
        return CacheFill(images=len(_images), held_bytes=_bytes, limit_bytes=cache_limit())


def _remember(key: tuple[str, str, int, int], image: PageImage) -> None:
    global _bytes, _logged_bytes
    limit = cache_limit()
    with _lock:
        if key not in _images:
            _images[key] = image
            _bytes += len(image.data)
        while _images and _bytes > limit:
            _, dropped = _images.popitem(last=False)
            _bytes -= len(dropped.data)
        moved = abs(_bytes - _logged_bytes) >= min(LOG_STEP_BYTES, max(1, limit // 10))
        if moved:
            _logged_bytes = _bytes
        fill = CacheFill(images=len(_images), held_bytes=_bytes, limit_bytes=limit)
    if moved:
        logger.info(
            "page images in memory (process %d): %d images, %d bytes of %d",
            os.getpid(),
            fill.images,
            fill.held_bytes,
            fill.limit_bytes,
            extra={
                "page_image_cache_images": fill.images,
                "page_image_cache_bytes": fill.held_bytes,
            },
        )


def _cached(key: tuple[str, str, int, int]) -> PageImage | None:
    with _lock:
        image = _images.get(key)
        if image is not None:
            _images.move_to_end(key)
        return image


def _image(data: bytes) -> PageImage:
    return PageImage(data=data, etag=hashlib.sha256(data).hexdigest())


def page_image(blob: Blob, page_index: int, width_px: int = DEFAULT_WIDTH) -> PageImage:
    """The image of page ``page_index`` (0-based) of the PDF in ``blob``, ``width_px`` wide
    (one of PAGE_IMAGE_WIDTHS; the renderer may scale a very large page down further).

    From this process's memory, else the object store, else rendered once and stored (see the
    module text). Raises ValueError for another width, IndexError for a page the PDF does not
    have (nothing is stored then), crypto.SealBroken for a stored image that does not open.
    """
    if width_px not in PAGE_IMAGE_WIDTHS:
        raise ValueError(f"width_px must be one of {PAGE_IMAGE_WIDTHS}")
    key = (str(blob.keyring_id), blob.sha256, page_index, width_px)
    found = _cached(key)
    if found is not None:
        return found
    with _lock:
        one_at_a_time = _rendering.setdefault(key, threading.Lock())
    with one_at_a_time:
        try:
            found = _cached(key)
            if found is None:
                found = _image(_stored_or_rendered(blob, page_index, width_px))
                _remember(key, found)
            return found
        finally:
            with _lock:
                _rendering.pop(key, None)


def _stored_or_rendered(blob: Blob, page_index: int, width_px: int) -> bytes:
    label = _label(page_index, width_px)
    stored = derived_get(blob, label)
    if stored is not None:
        return stored
    lease = f"keiyaku.page-image.{blob.keyring_id}.{blob.sha256}.{label}"
    holder = uuid.uuid4().hex
    if not cache.add(lease, holder, timeout=LEASE_SECONDS):
        # Another process is rendering it: wait for its object, up to the lease's length.
        deadline = time.monotonic() + LEASE_SECONDS
        while time.monotonic() < deadline and cache.get(lease) is not None:
            time.sleep(0.05)
            stored = derived_get(blob, label)
            if stored is not None:
                return stored
        stored = derived_get(blob, label)
        if stored is not None:
            return stored
    try:
        # The PDF is let go of before the encoder's buffers are made (issue 12: a 2,400 px
        # page of a 50 MB scan held the PDF, the bitmap and libjpeg's coefficients at once).
        image = render_page_bitmap(blob_get(blob), page_index, width_px=width_px)
        data = page_jpeg(image)
        del image
        return derived_put(blob, label, data)
    finally:
        if cache.get(lease) == holder:
            cache.delete(lease)
