"""Page images for the screens, rendered once per stored version and page.

A document page is requested page by page (and again on every visit); without this each
request would decrypt and parse the whole PDF. Stored versions never change, so an image is
keyed by the blob it was rendered from. The cache lives in this process's memory only: images
of contracts are never written to a shared cache in clear.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from keiyaku.signing.render import render_page_png
from keiyaku.storage.blobs import blob_get
from keiyaku.storage.models import Blob

MAX_IMAGES = 64  # about 10–20 MB of PNGs

_images: OrderedDict[tuple[str, int], bytes] = OrderedDict()
_lock = threading.Lock()


def page_png(blob: Blob, page_index: int) -> bytes:
    key = (str(blob.pk), page_index)
    with _lock:
        if key in _images:
            _images.move_to_end(key)
            return _images[key]
    png = render_page_png(blob_get(blob), page_index)
    with _lock:
        _images[key] = png
        while len(_images) > MAX_IMAGES:
            _images.popitem(last=False)
    return png
