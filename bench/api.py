"""Benchmark: API reads under 50 concurrent clients beside the same reads through the ORM
(issue 16, acceptance 6).

    .venv/bin/python bench/api.py [--contracts 100000] [--clients 50] [--seconds 20] [--json FILE]

On the production set-up of bench/production.py (PostgreSQL, Redis, S3, gunicorn as
`keiyaku serve` starts it, ``--web-workers`` of 4 threads). The contracts are seeded by
bench/staff_list.py's set-based SQL; one API token (read scope, organisation-wide) reads:

- ``list``: ``GET /api/v1/contracts?limit=50``, the first page of the admin's list;
- ``get``: ``GET /api/v1/contracts/{id}``, taken in turn over 50 contracts;

with ``--clients`` keep-alive clients, each one request at a time, for ``--seconds``. Beside
each, in the same run, the floor: the same read through the ORM in this process, one at a time
(`contract_list_page` and `contract_out` of the same contracts), p95 over ``--requests`` calls.
``p95/orm`` is the API's p95 under load over the ORM's p95 alone.

Every API call passes the gate: the token check, the rate-limit counter (set out of reach
here: the bench times reads, not refusals) and one ``api.call`` audit entry, which takes the
audit chain's head lock (`keiyaku.audit.services.audit_record`). ``audit waits`` counts, from
PostgreSQL's lock view sampled while the load runs, how often a backend was waiting for a
lock: the part of the p95 that is the gate's serialisation and not the read. No figure is
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Target, load, timed  # noqa: E402
from production import _fast_hashes, _Personas, installation  # noqa: E402
from staff_list import _staff, seed_contracts  # noqa: E402

GETS = 50


def _lock_waits(dsn: dict[str, Any], stop: threading.Event, seen: list[int]) -> None:
    """Sample pg_locks every 10 ms: how many backends wait for a lock at each sample."""
    import psycopg

    with psycopg.connect(**dsn, autocommit=True) as watcher:
        while not stop.wait(0.01):
            (waiting,) = watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted"
            ).fetchone()
            seen.append(int(waiting))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with installation() as site:  # Django is set up here
        from django.db import connection
        from django.utils import timezone

        from keiyaku.accounts.models import Role
        from keiyaku.api.contracts import contract_out
        from keiyaku.api.tokens import api_token_create
        from keiyaku.audit.models import Event
        from keiyaku.contracts.list_page import contract_list_page
        from keiyaku.contracts.selectors import contract_for, contracts_visible_to

        with _fast_hashes():
            personas = _Personas()
        admin = _staff(personas, "admin", Role.ADMIN, personas.sender.department)
        small = personas.sender.department
        seed_contracts(personas, author=admin, small=small, count=args.contracts)
        token = api_token_create(
            actor=admin,
            name="ベンチ",
            scope="read",
            organisation_wide=True,
            expires_at=timezone.now() + timedelta(days=1),
        ).secret
        bearer = f"Bearer {token}"
        ids = list(
            contracts_visible_to(admin)
            .order_by("-last_activity_at")
            .values_list("pk", flat=True)[:GETS]
        )
        reads = {
            "list": (
                [Target("/api/v1/contracts?limit=50", authorization=bearer)],
                lambda: contract_list_page(admin, size=50),
            ),
            "get": (
                [Target(f"/api/v1/contracts/{pk}", authorization=bearer) for pk in ids],
                None,
            ),
        }
        turn = iter(range(10**9))

        def orm_get() -> None:
            contract_out(contract_for(admin, ids[next(turn) % len(ids)]))

        dsn = connection.get_connection_params()
        unlimited = {"KEIYAKU_RATE_API": str(10**9)}
        with site.web(workers=args.web_workers, threads=4, env=unlimited) as web:
            for name, (targets, orm) in reads.items():
                # Every worker's first requests (imports, connections) are not timed.
                load(web.base_url, targets, clients=args.web_workers * 4, seconds=0.5)
                calls_before = Event.objects.filter(event="api.call").count()
                stop, waits = threading.Event(), []
                watcher = threading.Thread(target=_lock_waits, args=(dsn, stop, waits))
                watcher.start()
                try:
                    api = load(
                        web.base_url,
                        targets,
                        clients=args.clients,
                        seconds=args.seconds,
                        min_requests=args.clients,
                    )
                finally:
                    stop.set()
                    watcher.join()
                audited = Event.objects.filter(event="api.call").count() - calls_before
                orm_p50, orm_p95 = timed(orm or orm_get, args.requests)
                rows.append(
                    {
                        "read": name,
                        "clients": args.clients,
                        "requests": api.requests,
                        "errors": api.errors,
                        "rps": api.rps,
                        "p50_ms": api.p50_ms,
                        "p95_ms": api.p95_ms,
                        "p99_ms": api.p99_ms,
                        "orm_p50_ms": orm_p50,
                        "orm_p95_ms": orm_p95,
                        "p95_ratio": api.p95_ms / max(orm_p95, 1e-9),
                        "audited": audited,
                        "lock_samples": len(waits),
                        "lock_waiting_mean": sum(waits) / max(len(waits), 1),
                        "lock_waiting_max": max(waits, default=0),
                    }
                )
    return {
        "contracts": args.contracts,
        "web_workers": args.web_workers,
        "threads": 4,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "rows": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(
        f"API benchmark: {result['contracts']} contracts, gunicorn {result['web_workers']} "
        f"workers x {result['threads']} threads; {result['cpus']} CPUs, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in result['load_average'])}\n"
        "floor: the same read through the ORM in this process, one at a time, same run (orm)\n"
    )
    out.write(
        f"{'read':<5} {'clients':>7} {'reqs':>6} {'err':>4} {'req/s':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'orm p50':>8} {'orm p95':>8} {'p95/orm':>8} {'audited':>8} "
        f"{'lock waits mean/max':>20}\n"
    )
    for row in result["rows"]:
        out.write(
            f"{row['read']:<5} {row['clients']:>7} {row['requests']:>6} {row['errors']:>4} "
            f"{row['rps']:7.1f} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['orm_p50_ms']:8.2f} {row['orm_p95_ms']:8.2f} {row['p95_ratio']:8.1f} "
            f"{row['audited']:>8} {row['lock_waiting_mean']:11.2f} / {row['lock_waiting_max']:>4}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--requests", type=int, default=200, help="ORM calls of each floor")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = measure(args)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
