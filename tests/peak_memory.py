"""Peak resident memory of a stretch of code, from the kernel (Linux).

``resource.getrusage(...).ru_maxrss`` is no use in a process started by a large one: Linux
carries the parent's peak over into the child. The high-water mark in /proc/self/status
(VmHWM) can be reset instead (``clear_refs`` 5), so the rise of a stretch is measured alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def peak_reset() -> int:
    """Reset the high-water mark to the memory in use now; that memory (bytes)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") * 1024


def peak_rise(start: int) -> int:
    """How far the peak rose above ``start`` (bytes, from `peak_reset`) since the reset."""
    return max(0, _status_kb("VmHWM") * 1024 - start)


_INGEST_PROBE = """
import json, sys, time
import django
django.setup()
from pathlib import Path
from keiyaku.signing import budget
from keiyaku.signing.ingest import RefusedUpload, ingest_pdf
from tests.pdfs import make_pdf
from tests.peak_memory import peak_reset, peak_rise
ingest_pdf(make_pdf(), max_bytes=1 << 20)  # warm-up: imports, fonts, caches, the fork server
path = Path(sys.argv[1])
start_rss = peak_reset()
budget.peak_forget()
start = time.perf_counter()
try:
    ingest_pdf(path, max_bytes=int(sys.argv[2]))
    code = None
except RefusedUpload as exc:
    code = exc.code
seconds = time.perf_counter() - start
# The ingest itself runs in budgeted children; the budget reports the largest one's rise.
here, child = peak_rise(start_rss), budget.last_peak_bytes() or 0
print(json.dumps({"code": code, "seconds": seconds, "rise": here + child, "child": child}))
"""


def measure_ingest(path: Path, *, max_bytes: int = 20 * 1024 * 1024) -> dict:
    """Ingest ``path`` in a fresh process, after a warm-up ingest of a small file.

    Returns ``code`` (the refusal code, None when accepted), ``seconds``, and ``rise``: how far
    the resident memory rose (bytes) in that process plus in the budgeted child the ingest runs
    in (``child``, `keiyaku.signing.budget.last_peak_bytes`). The process is started from a
    small one: Linux carries a parent's peak into its child.
    """
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _INGEST_PROBE, str(path), str(max_bytes)],
        capture_output=True,
        text=True,
        check=True,
        cwd=_ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings"),
            "PYTHONPATH": str(_ROOT),
        },
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
