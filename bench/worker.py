"""Benchmark: the queue consumers of the production set-up, signing and completing contracts.

    .venv/bin/python bench/worker.py [--burst K] [--consumers 1,2,4] [--idle-seconds S]

On PostgreSQL, Redis and the S3 server (bench/production.py), with consumers started as
`keiyaku serve` starts its worker (`keiyaku run_huey`, 2 threads each) and keiyaku's own
time-stamp authority on the web server (gunicorn, 2 workers), as in production by default.

- **Signatures/s.** K counterparties of K contracts agree in one transaction (the services, as
  the agreement page calls them), so that K signature jobs reach Redis at once; the figure is
  K over the time from that commit until every one of them is signed, with 1, 2 and 4
  consumers (each warmed up by a few signatures first). The floor: pyHanko signing the same
  PDF (the contract's prepared document) in this process in a loop, the key loaded once and
  the same TSA, as bench/sign.py's stock signer does.
- **Last agreement → 「締結済み」.** One consumer per queue back end (``--queues``: Redis, and
  the SQLite queue file of the embedded set-up) idles for ``--idle-seconds``; then the last
  party (the mayor) of a contract agrees, on each queue in turn; the figure is the time until
  the contract is completed. The floor: the same agreement with its jobs run inline in this
  process (signature, then completion), i.e. the work without the queue. Also printed: the
  pick-up of each job, from the audit trail (agreement → the signing job took the contract;
  signature committed → the completion job took it). ``make bench`` idles 300 s, as the
  acceptance asks; with a fixed polling interval and no back-off (SQLite) or a blocking pop
  (Redis) nothing in the consumer depends on how long it idled, so a short idle gives the
  same figure (compare a run with ``--idle-seconds 5``).

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
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from production import installation, jobs_inline, queue_on, rss_mb, seed  # noqa: E402


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


_QUEUED_AT: dict[str, Any] = {}


def _complete_through_queue(contract_id: str) -> float:
    from django.utils import timezone

    began = time.perf_counter()
    _agree(_party(contract_id, "staff"))  # its signing job is queued as it commits
    _QUEUED_AT[contract_id] = timezone.now()
    return _wait(lambda: _completed(contract_id), every=0.005) - began


def _pickups(contract_id: str) -> tuple[float, float]:
    """(signing job queued → it took the contract, signature recorded → the completion job
    took it) in seconds, from the audit trail of ``contract_id``'s last signature (each job
    records when it took the contract's lease). The second includes the rest of the signing
    transaction and the lease changing hands."""
    from datetime import datetime

    from keiyaku.audit.models import Event

    events = Event.objects.filter(subject=f"contract:{contract_id}")
    signed = events.filter(event="signature.apply").order_by("-created_at").first()
    completed = events.get(event="contract.complete")
    assert signed is not None
    sign_began = datetime.fromisoformat(signed.detail["began_at"])
    complete_began = datetime.fromisoformat(completed.detail["began_at"])
    return (
        (sign_began - _QUEUED_AT[contract_id]).total_seconds(),
        (complete_began - signed.created_at).total_seconds(),
    )


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


# Where a signing job's time goes: (label, module path fragment, function name); the first
# match of each, by cumulative time, in a profile of the jobs run inline in this process.
_PROFILE_PARTS = [
    ("whole signing job (signature_apply)", "contracts/services/progress.py", "signature_apply"),
    ("  engine.sign_agreement", "signing/engine.py", "sign_agreement"),
    ("    reading the PDF (pyHanko reader)", "pdf_utils/incremental_writer.py", "__init__"),
    ("    time-stamp request (TSA, HTTP)", "signing/engine.py", "async_request_tsa_response"),
    ("    writing the revision + CMS", "sign/signers/pdf_signer.py", "async_sign_pdf"),
    ("  blob_get (S3 GET, decrypt, SHA-256)", "storage/blobs.py", "blob_get"),
    ("  blob_put (encrypt, SHA-256, S3 PUT)", "storage/blobs.py", "blob_put"),
    ("  routing.advance (next party's e-mail)", "contracts/services/routing.py", "advance"),
    ("  audit_record", "audit/services.py", "audit_record"),
    ("mail delivery job (mail_deliver)", "notifications/services.py", "mail_deliver"),
    ("SQL (Django cursor execute)", "django/db/backends/utils.py", "_execute"),
]


def profile_jobs(contract_ids: list[str]) -> dict[str, Any]:
    """Run the counterparty agreements of ``contract_ids`` with their jobs inline here under
    cProfile (wall-clock): the shares of a signing job's parts, and its CPU seconds."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    cpu, wall = time.process_time(), time.perf_counter()
    with jobs_inline():
        profile.enable()
        for contract_id in contract_ids:
            _agree(_party(contract_id, "external"))
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(tt for (_f, _l, _n), (_cc, _nc, tt, _ct, _c) in stats.items())
    parts = []
    for label, path, name in _PROFILE_PARTS:
        seconds = max(
            (
                ct
                for (f, _l, n), (_cc, _nc, _tt, ct, _c) in stats.items()
                if path in f and n == name
            ),
            default=0.0,
        )
        parts.append({"part": label, "seconds": seconds, "share": seconds / total if total else 0})
    return {
        "jobs": len(contract_ids),
        "profiled_seconds": total,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "parts": parts,
    }


def measure(args: argparse.Namespace) -> dict[str, object]:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    threads = args.threads
    warm = {count: count * threads for count in args.consumers}
    per_queue = args.idle_runs + 1  # the first completes before the idle: the child is warm
    idle_needed = per_queue * (len(args.queues) + 1)
    total = sum(warm.values()) + args.burst * len(args.consumers) + idle_needed + args.profile
    with installation() as site:
        seeded = seed(contracts=total, sessions=0, processes=args.seed_processes)
        pool = list(seeded.contracts)
        idle_contracts = [pool.pop() for _ in range(idle_needed)]
        bursts: list[dict[str, object]] = []
        memory: list[dict[str, object]] = []
        with site.web(workers=2, threads=4):
            warm_tsa()
            floor = pyhanko_floor(pool[0], runs=args.burst)
            profiled = profile_jobs([pool.pop() for _ in range(args.profile)])
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
            queued = {
                queue: idle_contracts[n * per_queue : (n + 1) * per_queue]
                for n, queue in enumerate(args.queues)
            }
            inline = idle_contracts[len(args.queues) * per_queue :]
            through: dict[str, list[float]] = {queue: [] for queue in args.queues}
            pickups: dict[str, list[tuple[float, float]]] = {queue: [] for queue in args.queues}
            with ExitStack() as stack:
                for queue in args.queues:
                    stack.enter_context(site.consumers(1, threads=threads, queue=queue))
                for queue in args.queues:
                    with queue_on(site, queue):
                        _complete_through_queue(queued[queue][0])
                for run in range(1, per_queue):
                    # Every consumer idles at once; then each queue's contract in turn.
                    time.sleep(args.idle_seconds)
                    for queue in args.queues:
                        contract_id = queued[queue][run]
                        with queue_on(site, queue):
                            through[queue].append(_complete_through_queue(contract_id))
                        pickups[queue].append(_pickups(contract_id))
            _complete_inline(inline[0])
            inline_seconds = [_complete_inline(contract_id) for contract_id in inline[1:]]
    inline_median = statistics.median(inline_seconds)
    return {
        "bursts": bursts,
        "idle": [
            {
                "queue": queue,
                "idle_seconds": args.idle_seconds,
                "runs": args.idle_runs,
                "queue_median_s": statistics.median(through[queue]),
                "queue_max_s": max(through[queue]),
                "inline_median_s": inline_median,
                "ratio": statistics.median(through[queue]) / inline_median,
                "sign_pickup_max_s": max(p[0] for p in pickups[queue]),
                "complete_pickup_max_s": max(p[1] for p in pickups[queue]),
            }
            for queue in args.queues
        ],
        "memory": memory,
        "profile": profiled,
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
    out.write(
        "last agreement -> completed after the consumers idled, 1 consumer per queue; pick-up "
        "(max): signing job queued -> began, signature recorded -> completion job began\n"
    )
    for idle in result["idle"]:
        out.write(
            f"  {idle['queue']:>6}: {idle['idle_seconds']:g} s idle, median of {idle['runs']}: "
            f"{idle['queue_median_s']:.2f} s (max {idle['queue_max_s']:.2f}); the same work "
            f"inline {idle['inline_median_s']:.2f} s; ratio {idle['ratio']:.2f}; pick-up "
            f"{1000 * idle['sign_pickup_max_s']:.0f} ms / "
            f"{1000 * idle['complete_pickup_max_s']:.0f} ms\n"
        )
    prof = result["profile"]
    if prof["jobs"]:
        out.write(
            f"where a signing job's time goes: {prof['jobs']} jobs run inline under cProfile, "
            f"{prof['wall_seconds']:.2f} s wall, {prof['cpu_seconds']:.2f} s CPU "
            "(cumulative; parts overlap)\n"
        )
        for part in prof["parts"]:
            out.write(
                f"  {part['part']:<44} {part['seconds']:7.3f} s {100 * part['share']:5.1f} %\n"
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
    parser.add_argument("--consumers", type=_ints, default=[1, 2, 4])
    parser.add_argument(
        "--queues",
        type=lambda text: [q for q in text.split(",") if q],
        default=["redis", "sqlite"],
        help="queue back ends of the idle runs (redis, sqlite)",
    )
    parser.add_argument("--threads", type=int, default=2, help="worker threads per consumer")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--idle-runs", type=int, default=3)
    parser.add_argument("--seed-processes", type=int, default=3)
    parser.add_argument(
        "--profile", type=int, default=10, help="signing jobs profiled inline (0: none)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = measure(args)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
