"""Issue 12, acceptance 5: a web worker loads its views and PDFium at start, so that its first
requests of each kind do not raise its baseline.

Before, a worker that had served only uploads and sends grew by some 25 MB the first time it
drew a page image (the views it had not resolved yet, PDFium's fonts and caches), and
bench/memory.py read that as growth from one large contract to the next. Measured in a fresh
process, as gunicorn loads `keiyaku.wsgi`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
_PROBE = """
import gc, json, re, sys
from pathlib import Path
import keiyaku.wsgi  # what gunicorn loads in each worker
from tests.pdfs import make_pdf
def rss():
    gc.collect()
    return int(re.search(r"VmRSS:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) * 1024
pdf = make_pdf()
start = rss()
from django.urls import resolve
from keiyaku.signing.render import page_jpeg, render_page_bitmap
resolve("/")
page_jpeg(render_page_bitmap(pdf, 0, width_px=1600))  # a page image's first render
print(json.dumps({"rise": rss() - start}))
"""


def _probe(script: str) -> dict[str, int]:
    """The JSON the script prints last, run in a fresh process of this interpreter."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=_ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(_ROOT)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.slow(seconds=4)
def test_a_web_workers_first_page_image_loads_nothing_more():
    rise = _probe(_PROBE)["rise"]
    # The bitmap and the encoder's buffers are freed; what stays is a few allocator pages.
    assert rise < 5 * 1024 * 1024, rise


def test_the_warm_up_makes_the_object_storages_client(s3_storage):
    from keiyaku.operations.warm_up import web_worker_warm_up
    from keiyaku.storage.blobs import object_storage

    storage = object_storage()
    # django-storages keeps the boto3 resource per thread once it is made.
    assert getattr(storage._connections, "connection", None) is None
    web_worker_warm_up()
    assert storage._connections.connection is not None


_FROZEN_PROBE = """
import gc, json
import keiyaku.wsgi  # what gunicorn loads in each worker
print(json.dumps({"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


@pytest.mark.slow(seconds=3)
def test_a_web_workers_start_up_objects_are_left_out_of_full_collections():
    """A full collection pauses every thread of the worker for as long as it walks the tracked
    objects: after start-up, they are frozen (`start_up_objects_freeze`) and it walks almost
    none of them."""
    counts = _probe(_FROZEN_PROBE)
    assert counts["frozen"] > 100_000, counts
    assert counts["tracked"] * 20 < counts["frozen"], counts


def test_the_warm_up_in_a_process_that_is_no_web_worker_freezes_nothing(s3_storage):
    """`web_worker_warm_up` loads; freezing is the worker's start (`keiyaku.wsgi`). Called in a
    process that goes on making and dropping objects of its own (this test run), it must not
    take them out of the collector for good: cycles among them would never be freed."""
    import gc

    from keiyaku.operations.warm_up import web_worker_warm_up

    frozen = gc.get_freeze_count()
    web_worker_warm_up()
    assert gc.get_freeze_count() == frozen
