"""Issue 12: memory a keiyaku process frees after a large file goes back to the system.

glibc's moving mmap threshold kept buffers below the largest block freed so far in its heaps:
after one 20 MB block, eight 4 MB buffers freed behind a small one still in use stayed
resident (32 MB), and a web worker's resident memory grew with each large contract.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
_PROBE = """
import json, sys
from keiyaku.operations.allocator import allocator_configure
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
configured = allocator_configure() if sys.argv[1] == "configured" else None
big = b"x" * (20 * 1024 * 1024)  # a page image's bitmap, say
del big
start = rss()
buffers = [b"x" * (4 * 1024 * 1024) for _ in range(8)]
pin = b"x" * (100 * 1024)  # still in use after them
del buffers
print(json.dumps({"kept": rss() - start, "configured": configured}))
"""


def _kept(mode: str) -> dict:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=_ROOT,
        env={"PYTHONPATH": str(_ROOT), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_buffers_go_back_to_the_system():
    configured = _kept("configured")
    assert configured["configured"] is True
    assert configured["kept"] < 4 * 1024 * 1024, configured
    # What the setting changes: without it, the buffers stay resident.
    assert _kept("default")["kept"] > 24 * 1024 * 1024


def test_the_web_and_the_commands_configure_it():
    for module in ("keiyaku/wsgi.py", "keiyaku/cli.py"):
        assert "allocator_configure()" in (_ROOT / module).read_text(), module
