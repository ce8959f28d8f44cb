"""Benchmark: the queue consumers of the production set-up, signing and completing contracts.

    .venv/bin/python bench/worker.py [--burst K] [--consumers 1,2] [--idle-seconds S]

On PostgreSQL, Redis and the S3 server (bench/production.py), with consumers started as
`keiyaku serve` starts its worker (`keiyaku run_huey`, 2 threads each) and keiyaku's own
time-stamp authority on the web server (gunicorn, 2 workers), as in production by default.

- **Signatures/s.** K counterparties of K contracts agree in one transaction (the services, as
  the agreement page calls them), so that K signature jobs reach Redis at once; the figure is
  K over the time from that commit until every one of them is signed, with 1 and with 2
  consumers (each warmed up by a few signatures first). The floor: pyHanko signing the same
  PDF (the contract's prepared document) in this process in a loop, the key loaded once and
  the same TSA, as bench/sign.py's stock signer does.
- **Last agreement → 「締結済み」.** After the queue has been idle for ``--idle-seconds``, the
  last party (the mayor) of a contract agrees; the figure is the time until the contract is
  completed, through Redis and one consumer. The floor: the same agreement with its jobs run
  inline in this process (signature, then completion), i.e. the work without the queue.

Printed beside each figure: figure / floor, the load average, and the resident memory of each
consumer. No figure is asserted. ``--json FILE`` writes them for a script.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from production import installation, jobs_inline, rss_mb, seed  # noqa: E402


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _party(contract_id: str, kind: str) -> Any:
    from keiyaku.contracts.models import Party

    return Party.objects.select_related("contract").get(contract_id=contract_id, kind=kind)


def _agree(party: Any) -> None:
    from keiyaku.audit.services import RequestMeta
    from keiyaku.contracts.selectors import documents_shown_to
    from keiyaku.contracts.services import party_agree

    shown = {doc.pk: version.blob.sha256 for doc, version in documents_shown_to(party)}
    party_agree(
        party=party, shown=shown, meta=RequestMeta(ip="127.0.0.1", user_agent="keiyaku-bench")
    )


def _wait(predicate: Any, *, seconds: float = 600, every: float = 0.01) -> float:
    """perf_counter() when ``predicate()`` first holds (RuntimeError after ``seconds``)."""
    deadline = time.perf_counter() + seconds
    while True:
        if predicate():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise RuntimeError("the consumers did not finish in time")
        time.sleep(every)


def _signed(party_ids: list[int]) -> bool:
    from keiyaku.contracts.models import Party, PartyStatus

    done = Party.objects.filter(pk__in=party_ids, status=PartyStatus.SIGNED).count()
    return done == len(party_ids)


def _sign_externals(contract_ids: list[str]) -> float:
    """The counterparties of ``contract_ids`` agree in one transaction; seconds from its
    commit until every one is signed by the consumers."""
    from django.db import transaction

    parties = [_party(contract_id, "external") for contract_id in contract_ids]
    with transaction.atomic():
        for party in parties:
            _agree(party)
        began = time.perf_counter()  # the jobs are queued as this block commits
    ended = _wait(lambda: _signed([p.pk for p in parties]))
    return ended - began


def _completed(contract_id: str) -> bool:
    from keiyaku.contracts.models import Contract, ContractStatus

    status = Contract.objects.values_list("status", flat=True).get(pk=contract_id)
    return status == ContractStatus.COMPLETED


def _mayor_ready(contract_id: str) -> bool:
    from keiyaku.contracts.models import PartyStatus

    return _party(contract_id, "staff").status == PartyStatus.NOTIFIED


def _complete_through_queue(contract_id: str) -> float:
    began = time.perf_counter()
    _agree(_party(contract_id, "staff"))
    return _wait(lambda: _completed(contract_id), every=0.005) - began


def _complete_inline(contract_id: str) -> float:
    began = time.perf_counter()
    with jobs_inline():
        _agree(_party(contract_id, "staff"))
    if not _completed(contract_id):
        raise RuntimeError("the inline completion did not complete the contract")
    return time.perf_counter() - began


def warm_tsa(*, seconds: float = 120) -> None:
    """Until four time stamps at once each take under half a second: every web worker has
    loaded the authority's keys (seconds, on its first /pki/tsa request)."""
    import asyncio
    import hashlib

    from keiyaku.signing.engine import TimestampUnavailable
    from keiyaku.signing.keys import get_timestamper

    async def one() -> float:
        began = time.perf_counter()
        try:
            await get_timestamper().async_timestamp(hashlib.sha256(b"warm").digest(), "sha256")
        except TimestampUnavailable:  # a worker still loading the keys on a busy machine
            return float("inf")
        return time.perf_counter() - began

    async def round_of_four() -> list[float]:
        return list(await asyncio.gather(*(one() for _ in range(4))))

    deadline = time.perf_counter() + seconds
    while max(asyncio.run(round_of_four())) > 0.5 and time.perf_counter() < deadline:
        pass


def pyhanko_floor(contract_id: str, *, runs: int) -> float:
    """Signatures/s of pyHanko signing the prepared document of ``contract_id`` in a loop as
    bench/sign.py's stock signer does (``signers.sign_pdf``, its dry run included), with the
    key loaded once and the same TSA through the same client as the consumers
    (``keys.get_timestamper``: pyHanko's own HTTP client builds an SSL context per request,
    ~30 ms, which keiyaku's does not)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from sign import REASON

    from keiyaku.pki.service import get_authority
    from keiyaku.signing import engine
    from keiyaku.signing.keys import get_timestamper, get_trust_roots
    from keiyaku.storage.blobs import blob_get

    party = _party(contract_id, "external")
    document = party.contract.documents.get()
    pdf = blob_get(document.current_version().blob)
    # A pyHanko Signer holding the parsed key (stock SimpleSigner parses it again for every
    # signature and for its dry run: ~0.1 s each here).
    signer = engine.ServiceSigner.from_authority(get_authority()).signer
    timestamper = get_timestamper()

    def sign() -> bytes:
        meta = signers.PdfSignatureMetadata(
            field_name=party.signature_field,
            md_algorithm="sha256",
            reason=REASON,
            location="日本",
            subfilter=fields.SigSeedSubFilter.PADES,
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        return signers.sign_pdf(
            writer, meta, signer=signer, timestamper=timestamper, existing_fields_only=True
        ).getvalue()

    report = engine.verify(sign(), trust_roots=get_trust_roots())  # also the warm-up
    if not report.ok:
        raise RuntimeError(f"the floor's signature does not validate: {report.error}")
    began = time.perf_counter()
    for _ in range(runs):
        sign()
    return runs / (time.perf_counter() - began)


def measure(args: argparse.Namespace) -> dict[str, object]:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    threads = args.threads
    warm = {count: count * threads for count in args.consumers}
    idle_needed = 2 * (args.idle_runs + 1)
    total = sum(warm.values()) + args.burst * len(args.consumers) + idle_needed
    with installation() as site:
        seeded = seed(contracts=total, sessions=0, processes=args.seed_processes)
        pool = list(seeded.contracts)
        idle_contracts = [pool.pop() for _ in range(idle_needed)]
        bursts: list[dict[str, object]] = []
        memory: list[dict[str, object]] = []
        with site.web(workers=2, threads=4):
            warm_tsa()
            floor = pyhanko_floor(pool[0], runs=args.burst)
            for count in args.consumers:
                with site.consumers(count, threads=threads) as consumers:
                    warm_ids = [pool.pop() for _ in range(warm[count])]
                    if count == args.consumers[0]:
                        warm_ids += idle_contracts  # their counterparties sign first
                    _sign_externals(warm_ids)
                    burst_ids = [pool.pop() for _ in range(args.burst)]
                    seconds = _sign_externals(burst_ids)
                    rate = args.burst / seconds
                    bursts.append(
                        {
                            "consumers": count,
                            "threads": threads,
                            "signatures": args.burst,
                            "seconds": seconds,
                            "per_second": rate,
                            "per_second_per_consumer": rate / count,
                            "floor_per_second": floor,
                            "ratio": rate / floor,
                            "ratio_per_consumer": rate / count / floor,
                        }
                    )
                    for process in consumers:
                        rss, peak = rss_mb(process.pid)
                        memory.append(
                            {"consumers": count, "pid": process.pid, "rss_mb": rss, "peak_mb": peak}
                        )
            for contract_id in idle_contracts:
                _wait(lambda c=contract_id: _mayor_ready(c), seconds=120)
            queued, inline = (
                idle_contracts[: args.idle_runs + 1],
                idle_contracts[args.idle_runs + 1 :],
            )
            with site.consumers(1, threads=threads):
                _complete_through_queue(queued[0])  # a completion before: the child is warm
                through_queue = []
                for contract_id in queued[1:]:
                    time.sleep(args.idle_seconds)
                    through_queue.append(_complete_through_queue(contract_id))
            _complete_inline(inline[0])
            inline_seconds = [_complete_inline(contract_id) for contract_id in inline[1:]]
    return {
        "bursts": bursts,
        "idle": {
            "idle_seconds": args.idle_seconds,
            "runs": args.idle_runs,
            "queue_median_s": statistics.median(through_queue),
            "queue_max_s": max(through_queue),
            "inline_median_s": statistics.median(inline_seconds),
            "ratio": statistics.median(through_queue) / statistics.median(inline_seconds),
        },
        "memory": memory,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def print_table(result: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(
        f"worker benchmark: {result['cpus']} CPUs, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in result['load_average'])}\n"
        "signatures/s: a burst of agreements queued at once, until all are signed; floor: "
        "pyHanko signing the same PDF in a loop (key loaded once, same TSA)\n"
    )
    out.write(
        f"{'consumers':>9} {'threads':>7} {'sigs':>5} {'seconds':>8} {'sig/s':>7} "
        f"{'per cons':>8} {'floor/s':>8} {'ratio':>6} {'per cons/fl':>11}\n"
    )
    for row in result["bursts"]:
        out.write(
            f"{row['consumers']:>9} {row['threads']:>7} {row['signatures']:>5} "
            f"{row['seconds']:8.2f} {row['per_second']:7.1f} {row['per_second_per_consumer']:8.1f} "
            f"{row['floor_per_second']:8.1f} {row['ratio']:6.2f} {row['ratio_per_consumer']:11.2f}\n"
        )
    idle = result["idle"]
    out.write(
        f"last agreement -> completed after {idle['idle_seconds']} s idle, 1 consumer, "
        f"median of {idle['runs']}: {idle['queue_median_s']:.2f} s (max "
        f"{idle['queue_max_s']:.2f}); the same work inline {idle['inline_median_s']:.2f} s; "
        f"ratio {idle['ratio']:.2f}\n"
    )
    out.write("resident memory of the consumers after their burst (MB: now / peak)\n")
    for item in result["memory"]:
        out.write(
            f"  {item['consumers']} consumers, pid {item['pid']}: "
            f"{item['rss_mb']:.0f} / {item['peak_mb']:.0f}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=40, help="agreements queued at once")
    parser.add_argument("--consumers", type=_ints, default=[1, 2])
    parser.add_argument("--threads", type=int, default=2, help="worker threads per consumer")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--idle-runs", type=int, default=3)
    parser.add_argument("--seed-processes", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = measure(args)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
