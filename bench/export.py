"""Benchmark: peak memory of an organisation's export (issue 15, acceptance 5; R34).

    .venv/bin/python bench/export.py [--small 200] [--large 2000]

Makes two organisations of concluded contracts (one through the services, the others copies
sharing its stored files: tests/contracts/export_memory.py), then exports each as the
download does (a ZIP streamed and dropped piece by piece) and as `keiyaku export DEST` does
(a folder on disk), after a warm-up export. Prints how far the process's peak resident memory
rose during each export (VmHWM reset before it, tests/peak_memory.py) and the Python heap's
peak (tracemalloc), the ZIP's size, and the large/small ratio of the peaks' absolute values
(the process's resident size at the peak). Goal: flat, the ratio near 1; the ZIP's heap
grows by its central directory alone (under 1 kB a file). Nothing is asserted; tests/contracts/test_exports.py
asserts a generous bound on a smaller pair.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("KEIYAKU_TASKS_IMMEDIATE", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from tests.contracts.export_memory import export_peak, organisation_with  # noqa: E402
from tests.peak_memory import peak_reset  # noqa: E402

MB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=2000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    warm = organisation_with(5, slug="bench-warm-up")
    small = organisation_with(args.small, slug="bench-small")
    large = organisation_with(args.large, slug="bench-large")
    export_peak(warm)
    results = {}
    for label, organisation, count in (("small", small, args.small), ("large", large, args.large)):
        base = peak_reset()
        peak = export_peak(organisation)
        results[label] = (base, peak)
        print(
            f"{count:>6} contracts: ZIP {peak.zip_size / MB:8.1f} MB, peak rise "
            f"{peak.zip_bytes / MB:6.1f} MB as a ZIP, {peak.folder_bytes / MB:6.1f} MB to a folder "
            f"(resident before: {base / MB:.1f} MB); Python heap's peak "
            f"{peak.zip_heap / MB:.1f} MB as a ZIP ({peak.files} files), "
            f"{peak.folder_heap / MB:.1f} MB to a folder"
        )
    (small_base, small_peak), (large_base, large_peak) = results["small"], results["large"]
    for what in ("zip_bytes", "folder_bytes"):
        small_rss = small_base + getattr(small_peak, what)
        large_rss = large_base + getattr(large_peak, what)
        print(
            f"peak RSS {what.split('_')[0]:>6}: {small_rss / MB:.1f} MB ({args.small}) vs "
            f"{large_rss / MB:.1f} MB ({args.large}): ratio {large_rss / small_rss:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
