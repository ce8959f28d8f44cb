"""What a web worker loads at start instead of on its first request of each kind (issue 12).

Django imports the views (and with them pyHanko, pikepdf, reportlab, the signing modules) on
the first request it resolves, PDFium builds its caches on the first page image a process
draws, and the S3 storage makes its boto3 client (some 15 MB of service model) on the first
file a process reads or writes. Each is loaded once per process, but lazily: it landed in
whichever large contract first sent that kind of request to that worker, and bench/memory.py
read it as baseline growth (a worker that had served only uploads after its first contract
grew by some 45 MB the first time it drew a page). Loaded at start, a worker's resident
memory after its first requests is what it keeps (plus the page-image cache, which fills to
its bound by design), and no first request waits for the loading.
"""

from __future__ import annotations

import gc
import io
import logging

logger = logging.getLogger(__name__)


def web_worker_warm_up() -> None:
    """Import every view (the URLconf, resolved once), draw one blank page with PDFium and make
    the object storage's client (no request is sent), as the first requests would. Called by
    `keiyaku.wsgi` in each web worker, after Django is set up. A failure is logged and costs
    only the first requests' time: it never stops a worker. It freezes nothing: the worker's
    start (`keiyaku.wsgi`) calls `start_up_objects_freeze` after it, where no other objects of
    the process (a test run's) would be frozen with the worker's."""
    try:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 - the import is the point

        import pikepdf

        from keiyaku.signing.render import page_jpeg, render_page_bitmap

        blank = pikepdf.new()
        blank.add_blank_page(page_size=(595, 842))
        out = io.BytesIO()
        blank.save(out)
        page_jpeg(render_page_bitmap(out.getvalue(), 0, width_px=800))

        from keiyaku.storage.blobs import object_storage

        connection = getattr(object_storage(), "connection", None)  # S3 only; a folder has none
        if connection is not None:
            connection.meta.client  # noqa: B018 - made on first access
    except Exception:
        logger.warning("web worker warm-up failed", exc_info=True)


def start_up_objects_freeze() -> None:
    """Move every object loaded so far out of the garbage collector's generations
    (`gc.freeze`): modules, classes, templates, URL patterns live as long as the process.

    Python's full collection walks every tracked object, and it pauses every thread of the
    process while it does: about 220,000 objects after start-up, for which one full collection
    took 50–180 ms in the middle of some request (bench/search.py's page, one in about a
    hundred). Frozen, a full collection walks only what requests made since. Called by
    `keiyaku.wsgi`, in a process that is a web worker and nothing else (and by bench/search.py,
    whose process stands for one)."""
    gc.collect()
    gc.freeze()
