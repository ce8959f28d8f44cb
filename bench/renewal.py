"""Benchmark: archival renewal throughput (R21), beside a document timestamp in a pyHanko loop.

    .venv/bin/python bench/renewal.py [--contracts N] [--runs N]

Makes N completed contracts (set-based, as tests/contracts/renewal_setup.py does) whose final
PDF's timestamp comes from a TSA certificate ending within the renewal margin, then times one
run of the real renewal job (`archive_renewal_run`: lease, blob read, validation data, new
document timestamp, blob write, records and audit entry per contract). The floor, measured in
the same run with the same PDF and the same TSA (keiyaku's responder on loopback): pyHanko's
own `PdfTimeStamper.timestamp_pdf` adding a document timestamp to that PDF in a loop, nothing
stored. Prints contracts renewed per second, timestamps per second, and their ratio. Nothing is
asserted: the ratio says what keiyaku's bookkeeping costs on top of pyHanko's work.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("KEIYAKU_TASKS_IMMEDIATE", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper  # noqa: E402
from pyhanko.sign.timestamps import HTTPTimeStamper  # noqa: E402

from keiyaku.contracts.services.renewal import archive_renewal_run  # noqa: E402
from keiyaku.pki.service import get_authority  # noqa: E402
from keiyaku.pki.tsa_access import headers_for  # noqa: E402
from keiyaku.signing.keys import get_validation_context  # noqa: E402
from tests.contracts.renewal_setup import YEAR, completed_in_bulk, final_pdf  # noqa: E402
from tests.servers.short_lived_tsa import ShortLivedTsa  # noqa: E402


def _floor(pdf: bytes, url: str, runs: int) -> float:
    """Seconds per document timestamp added by stock pyHanko to ``pdf`` (median of ``runs``),
    with validation data for the new TSA, as the renewal adds."""
    stamper = PdfTimeStamper(HTTPTimeStamper(url, headers=headers_for(url)))
    context = get_validation_context()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        stamper.timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)),
            "sha256",
            validation_context=context,
            output=io.BytesIO(),
        )
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=300)
    parser.add_argument("--runs", type=int, default=50, help="floor iterations")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from tests.conftest import Personas

    personas = Personas()
    old = ShortLivedTsa(get_authority(), base_url=settings.PUBLIC_URL)
    new = ShortLivedTsa(get_authority(), base_url=settings.PUBLIC_URL, years=10)
    try:
        old.issue(timezone.now() - YEAR * 1.5)  # ends in half a year: every contract is due
        new.issue(timezone.now())
        pdf = final_pdf(old)
        completed_in_bulk(personas, count=args.contracts, pdf=pdf)
        settings.KEIYAKU_TSA_URLS = [new.url]
        floor = _floor(pdf, new.url, args.runs)
        began = time.perf_counter()
        summary = archive_renewal_run(limit=args.contracts)
        seconds = time.perf_counter() - began
    finally:
        old.close()
        new.close()
    if summary.renewed != args.contracts:
        sys.stderr.write(f"FAIL renewed {summary.renewed} of {args.contracts}: {summary}\n")
        return 1
    rate, floor_rate = args.contracts / seconds, 1 / floor
    load = os.getloadavg()[0]
    sys.stdout.write(
        f"archival renewal, {args.contracts} contracts in one run (load average {load:.1f})\n"
        f"  keiyaku renewal job: {rate:7.1f} contracts/s ({1000 * seconds / args.contracts:.0f}"
        f" ms each)\n"
        f"  floor, pyHanko document timestamp (same PDF, same TSA, median of {args.runs}):"
        f" {floor_rate:7.1f} /s ({1000 * floor:.0f} ms)\n"
        f"  ratio renewal/floor: {floor_rate / rate:.2f}x the time of the bare timestamp\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
