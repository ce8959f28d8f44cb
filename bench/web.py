"""Benchmark: the web server of the production set-up under 20, 50, 100 and 200 clients.

    .venv/bin/python bench/web.py [--contracts N] [--web-workers 2] [--clients 20,50,100,200]

On PostgreSQL, Redis and the S3 server (bench/production.py), gunicorn started as
`keiyaku serve` starts it, with 2 worker processes of 4 threads each (``--web-workers 1,2,4``
compares). An organisation with N sent contracts is seeded through the services; the load is
then:

- the staff contract list (``/``) of the sender, who sees every contract;
- a counterparty's signing document page (``/s/<token>/documents/``), in turn over the first
  ``--sessions`` counterparties, each with its access code proven;
- a page image (``/s/<token>/documents/<id>/pages/<n>.jpg?v=…``), in turn over every page
  those counterparties are shown (two pages each), as each of them reads their own document.
  Before the timed runs each image is asked for once, one at a time (``page image, first``: rendered and
  stored; issue 12), so the timed runs measure what every later visit costs: the stored image,
  from a web process's memory or the object store, behind the same access checks.

Each is printed as p50/p95/p99 latency (ms), errors (answers other than 200) and requests/s,
beside the floor: a static file served by the same server (WhiteNoise) at the same concurrency
in the same run (``p50/fl``, ``p95/fl``: figure / floor; ``rps/fl``: requests/s / the floor's);
``/healthz`` (one middleware, no session, no database) is a second reference row. Then the
resident memory of each web worker. No figure is asserted; issue 12's goal (p95 under 3 × the
floor and under 200 ms at 200 clients, no errors) is marked per row (``goal``). The numbers are
for docs/operations.md (Sizing) and issue 12.
Each run lasts ``--seconds`` and at least ``--min-requests`` requests. ``--json FILE`` writes
the figures for a script.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Figures, Target, load  # noqa: E402
from production import Installation, Seeded, installation, rss_mb, seed  # noqa: E402

_IMG_RE = re.compile(r'<img src="(/s/[^"]+\.jpg[^"]*)"')


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def page_images(site: Installation, seeded: Seeded) -> list[Target]:
    """Every page image the seeded counterparties are shown, as their pages link it."""
    found = []
    for link, cookie in seeded.sessions:
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
        conn.request("GET", link + "documents/", headers={"Cookie": cookie})
        page = conn.getresponse().read().decode()
        conn.close()
        found += [Target(html.unescape(src), cookie) for src in _IMG_RE.findall(page)]
    if not found:
        raise RuntimeError("the signing document page links no page image")
    return found


def measure(args: argparse.Namespace) -> dict[str, object]:
    rows: list[dict[str, object]] = []
    memory: list[dict[str, object]] = []
    started = time.perf_counter()
    with installation() as site:
        seeded = seed(
            contracts=args.contracts, sessions=args.sessions, processes=args.seed_processes
        )
        seeded_in = time.perf_counter() - started
        from django.templatetags.static import static

        endpoints: dict[str, list[Target]] = {
            "static (floor)": [Target(static("keiyaku/keiyaku.css"))],
            "healthz": [Target("/healthz")],
            "staff list": [Target("/", seeded.staff_cookie)],
            "document page": [Target(link + "documents/", c) for link, c in seeded.sessions],
        }
        for workers in args.web_workers:
            with site.web(workers=workers, threads=args.threads) as web:
                if "page image" not in endpoints:
                    endpoints["page image"] = page_images(site, seeded)
                    # Each image's first request: rendered once and stored for every process.
                    images = endpoints["page image"]
                    first = load(
                        web.base_url,
                        images,
                        clients=1,
                        seconds=0,
                        min_requests=len(images),
                    )
                    rows.append(
                        {
                            "web_workers": workers,
                            "threads": args.threads,
                            "endpoint": "page image, first",
                            **first.__dict__,
                            "p50_ratio": 0.0,
                            "p95_ratio": 0.0,
                            "rps_ratio": 0.0,
                        }
                    )
                # Every web worker's imports, connections and first queries.
                for targets in endpoints.values():
                    load(web.base_url, targets[:1], clients=workers * args.threads, seconds=0.5)
                for clients in args.clients:
                    floor: Figures | None = None
                    for name, targets in endpoints.items():
                        figures = load(
                            web.base_url,
                            targets,
                            clients=clients,
                            seconds=args.seconds,
                            min_requests=args.min_requests,
                        )
                        floor = floor or figures
                        rows.append(
                            {
                                "web_workers": workers,
                                "threads": args.threads,
                                "endpoint": name,
                                **figures.__dict__,
                                "p50_ratio": figures.p50_ms / max(floor.p50_ms, 1e-9),
                                "p95_ratio": figures.p95_ms / max(floor.p95_ms, 1e-9),
                                "rps_ratio": figures.rps / max(floor.rps, 1e-9),
                            }
                        )
                for pid in web.workers():
                    rss, peak = rss_mb(pid)
                    memory.append(
                        {"web_workers": workers, "pid": pid, "rss_mb": rss, "peak_mb": peak}
                    )
                master_rss, _ = rss_mb(web.process.pid)
                memory.append(
                    {"web_workers": workers, "pid": "master", "rss_mb": master_rss, "peak_mb": 0}
                )
    return {
        "contracts": args.contracts,
        "sessions": len(seeded.sessions),
        "page_images": len(endpoints.get("page image", [])),
        "seconds_per_run": args.seconds,
        "seed_seconds": seeded_in,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "rows": rows,
        "memory": memory,
    }


def print_table(result: dict[str, object]) -> None:
    out = sys.stdout
    out.write(
        f"web benchmark: {result['contracts']} contracts, {result['sessions']} counterparty "
        f"sessions, {result['page_images']} page images in turn, {result['seconds_per_run']} s "
        f"per run; {result['cpus']} CPUs, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in result['load_average'])}\n"  # type: ignore[attr-defined]
        "floor: a static file (WhiteNoise) on the same server at the same concurrency, same run;"
        " goal: p95 < 3 x floor and < 200 ms, no errors\n"
    )
    out.write(
        f"{'web':>5} {'clients':>7} {'endpoint':<18} {'reqs':>6} {'err':>4} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'p50/fl':>7} {'p95/fl':>7} {'rps/fl':>7}"
        f" {'goal':>4}\n"
    )
    for row in result["rows"]:  # type: ignore[attr-defined]
        met = row["errors"] == 0 and row["p95_ms"] < 200 and row["p95_ratio"] < 3
        goal = "" if row["p95_ratio"] == 0 or "floor" in row["endpoint"] else "met" if met else "no"
        out.write(
            f"{row['web_workers']:>2}x{row['threads']:<2} {row['clients']:>7} "
            f"{row['endpoint']:<18} {row['requests']:>6} {row['errors']:>4} "
            f"{row['p50_ms']:8.1f} {row['p95_ms']:8.1f} {row['p99_ms']:8.1f} {row['rps']:8.1f} "
            f"{row['p50_ratio']:7.1f} {row['p95_ratio']:7.1f} {row['rps_ratio']:7.2f} {goal:>4}\n"
        )
    out.write("resident memory of the web processes after their runs (MB: now / peak)\n")
    for item in result["memory"]:  # type: ignore[attr-defined]
        out.write(
            f"  {item['web_workers']} web workers, pid {item['pid']}: "
            f"{item['rss_mb']:.0f} / {item['peak_mb']:.0f}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=200, help="contracts seeded")
    parser.add_argument(
        "--sessions", type=int, default=100, help="counterparties whose pages are requested"
    )
    parser.add_argument("--web-workers", type=_ints, default=[2])
    parser.add_argument("--threads", type=int, default=4, help="threads per web worker")
    parser.add_argument("--clients", type=_ints, default=[20, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each run")
    parser.add_argument(
        "--min-requests", type=int, default=10, help="requests of each run, however long"
    )
    parser.add_argument("--seed-processes", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.sessions = min(args.sessions, args.contracts)
    result = measure(args)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
