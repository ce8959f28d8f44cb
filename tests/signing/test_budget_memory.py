"""Issue 12: a PDF crosses to and from a budgeted child without pickled copies.

Before, the argument was pickled beside the caller's own copy and the result arrived pickled
and was unpickled into a second copy: a 40 MB file handed to a child and back raised the
caller's peak by 2-3 times its size. Measured in a fresh process (`tests.peak_memory`).
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
import json, os, sys
import django
django.setup()
from keiyaku.signing import budget
from tests.peak_memory import peak_reset, peak_rise
from tests.signing.budget_children import reversed_with_length
limits = budget.Limits(seconds=60, memory_mb=1024)
budget.run(reversed_with_length, b"warm-up" * 20000, tag=b"t", limits=limits)  # the fork server
data = os.urandom(int(sys.argv[1]))
start = peak_reset()
out, length, tag = budget.run(reversed_with_length, data, tag=b"t", limits=limits)
rise = peak_rise(start)
print(json.dumps({"rise": rise, "right": out == data[::-1] and length == len(data) and tag == b"t"}))
"""
SIZE = 40 * 1024 * 1024


@pytest.mark.slow(seconds=5)
def test_a_large_argument_and_result_cross_without_copies():
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _PROBE, str(SIZE)],
        capture_output=True,
        text=True,
        check=True,
        cwd=_ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(_ROOT)},
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["right"]
    # The result, once; nothing for the argument.
    assert figures["rise"] < 1.25 * SIZE, figures
