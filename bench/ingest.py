"""Benchmark: ingesting a 20 MB, a 600-page and a bomb PDF, beside `qpdf --check` (issue 10).

    .venv/bin/python bench/ingest.py [--runs N]

Each file is ingested from its path (as an upload Django wrote to disk) in a fresh process,
after a warm-up ingest of a small file, which reports the seconds ``ingest_pdf`` took and how
far its resident memory rose above where it started, in the process and in the budgeted child
the ingest runs in (`tests.peak_memory` and `budget.last_peak_bytes`: the kernel's high-water
mark, reset first). The floor is ``qpdf --check`` on the same file, measured in
the same run: qpdf reads every object and decodes every stream, so it is the least a check of
the whole file costs.

Printed per file: seconds (median), ingest / qpdf, the rise in peak memory in MB and as a
multiple of the file size. Fails (exit 1) when the rise exceeds ``MAX_RISE_MULTIPLE`` times
the file size plus ``RISE_ALLOWANCE_MB`` (the libraries' working set, which does not grow with
the file), or when the bomb is not refused.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from tests.pdf_corpus.limits import flate_bomb  # noqa: E402
from tests.pdfs import make_pdf  # noqa: E402
from tests.peak_memory import measure_ingest  # noqa: E402

MB = 1024 * 1024
# Measured on the reference machine, counting the process and the budgeted child the ingest runs
# in (its signing proof included, which runs inside that child): the 20 MB file rises ~8x its
# size (the child ~110 MB, this process ~45 MB for the normalised copy it is handed back), the
# 600-page file ~36 MB, the bomb ~4 MB. The bar leaves room for machines, not for a regression
# that holds the decoded bomb (400 MB) or several more copies of a 20 MB file.
MAX_RISE_MULTIPLE = 8
RISE_ALLOWANCE_MB = 48


_QPDF = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(["qpdf", "--check", sys.argv[1]], capture_output=True)
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def qpdf_check_once(path: Path) -> tuple[float, int]:
    """Seconds and peak memory (bytes) of ``qpdf --check`` on ``path``, started from a small
    process (Linux counts a child's peak from the process it was forked from)."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _QPDF, str(path)], capture_output=True, text=True, check=True
    )
    seconds, peak = done.stdout.split()
    return float(seconds), int(peak)


def twenty_mb() -> bytes:
    return make_pdf(pad_bytes=20 * MB - 200_000)


def six_hundred_pages() -> bytes:
    return make_pdf(pages=600)


FILES = {"20 MB": twenty_mb, "600 pages": six_hundred_pages, "bomb": flate_bomb}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    failures = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="keiyaku-bench-") as tmp:
        for label, make in FILES.items():
            path = Path(tmp) / f"{label.replace(' ', '-')}.pdf"
            path.write_bytes(make())
            size = path.stat().st_size
            ours = [measure_ingest(path) for _ in range(args.runs)]
            floor = [qpdf_check_once(path) for _ in range(args.runs)]
            seconds = statistics.median(r["seconds"] for r in ours)
            rise = max(r["rise"] for r in ours)
            qpdf_seconds = statistics.median(s for s, _ in floor)
            qpdf_peak = max(p for _, p in floor)
            codes = {r["code"] for r in ours}
            rows.append((label, size, seconds, qpdf_seconds, rise, qpdf_peak, codes))
            allowed = MAX_RISE_MULTIPLE * size + RISE_ALLOWANCE_MB * MB
            if rise > allowed:
                failures.append(
                    f"{label}: peak memory rose {rise / MB:.0f} MB, over "
                    f"{MAX_RISE_MULTIPLE} x {size / MB:.1f} MB + {RISE_ALLOWANCE_MB} MB"
                )
            if label == "bomb" and codes != {"stream_too_large"}:
                failures.append(f"bomb: not refused as stream_too_large ({codes})")

    out = io.StringIO()
    out.write(f"ingest_pdf from a path, median of {args.runs} runs; floor: qpdf --check\n")
    out.write(
        f"{'file':>10} {'MB':>6} {'ingest s':>9} {'qpdf s':>8} {'i/qpdf':>7} "
        f"{'rise MB':>8} {'rise/size':>9} {'qpdf MB':>8}  verdict\n"
    )
    for label, size, seconds, qpdf_seconds, rise, qpdf_peak, codes in rows:
        out.write(
            f"{label:>10} {size / MB:6.2f} {seconds:9.2f} {qpdf_seconds:8.2f} "
            f"{seconds / qpdf_seconds:7.1f} {rise / MB:8.1f} {rise / size:9.2f} "
            f"{qpdf_peak / MB:8.1f}  {', '.join(c or 'accepted' for c in sorted(codes, key=str))}\n"
        )
    out.write(
        f"bar: peak memory rise <= {MAX_RISE_MULTIPLE} x file size + {RISE_ALLOWANCE_MB} MB\n"
    )
    sys.stdout.write(out.getvalue())
    for failure in failures:
        sys.stderr.write(f"FAIL {failure}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
