"""Benchmark: the staff contract list with a million contracts (issue 12, acceptance 2).

    .venv/bin/python bench/staff_list.py [--contracts 1000000] [--requests 200] [--json FILE]

On the production set-up of bench/production.py (PostgreSQL, gunicorn as `keiyaku serve`
starts it, 2 web workers). The organisation, its departments and its staff are made through
the services; the contracts are not: a million through the services would take days (about
0.7 s each), so they are written by set-based SQL (``INSERT … SELECT … generate_series``) in
the shape the services leave them: one key ring each, two parties (a counterparty, then the
mayor), statuses spread over every contract state, the parties' statuses matching, the last
activity in runs of three equal times (ties for the keyset's tie-breaker), ten departments
and, for one contract in a thousand, an eleventh, small one. The tables are then VACUUM
ANALYZEd, as autovacuum would after such a load, and a CHECKPOINT writes the load out before
anything is timed.

Measured, one request at a time (``--requests`` each), for three readers:

- ``sender``: a sender of one department of ten, who sees a tenth of the contracts through
  the visibility filter (R29: department, shares, own, as a party);
- ``admin``: the organisation's admin, who sees them all;
- ``few``: a sender of the small department, who sees one contract in a thousand (the
  filter's worst case: the index walk passes a thousand rows for each row shown);

at three positions: the first page, a page half-way down and one near the end, reached by
the keyset cursor a 「次へ」 link carries. Beside each, in the same run:

- ``raw SQL``: the page's own query (the SQL text and parameters the ORM sends, from
  `contract_list_query`) executed with psycopg on a connection of its own and its rows
  fetched: the floor no list page can go under;
- ``ORM``: `contract_list_page` in this process (the query through Django, rows built).

- ``staff page``: ``/templates/`` for the same reader: what any staff page costs (session,
  staff, organisation and sign-in policy reads, the navigation, the template) before its
  own query.

``p95/raw`` is the page's p95 over the raw SQL's p95. The plan of the deepest page
(EXPLAIN ANALYZE) is printed, to show the index it walks. No figure is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Target, load, timed  # noqa: E402
from production import PASSWORD, _fast_hashes, _Personas, cookie_of, installation  # noqa: E402

STATUSES = (
    # 20 slots: the mix of a municipality a few years in.
    ["completed"] * 11 + ["in_progress"] * 5 + ["draft", "rejected", "cancelled", "expired"]
)
DEPARTMENTS = 10

_SEED_SQL = """
INSERT INTO storage_keyring (id, wrapped_key, created_at)
SELECT md5(%(salt)s || 'k' || n)::uuid, '\\x00'::bytea, now()
FROM generate_series(1, %(count)s) AS n;

INSERT INTO contracts_contract (
    id, organisation_id, created_by_id, department_id, keyring_id, title, management_number,
    counterparty_company, amount, auto_renew, note, status, certificate_id, status_reason,
    allow_forwarding, created_at, sent_at, completed_at, last_activity_at
)
SELECT
    md5(%(salt)s || 'c' || n)::uuid, %(organisation)s, %(author)s,
    CASE WHEN n %% 1000 = 0 THEN %(small)s
         ELSE (%(departments)s::int[])[1 + n %% %(department_count)s] END,
    md5(%(salt)s || 'k' || n)::uuid,
    '令和8年度 道路補修工事 請負契約 第' || n || '号', 'R8-土木-' || lpad(n::text, 7, '0'),
    '株式会社ベンチ建設' || n, 12345000, false, '', s.status,
    %(salt)s || lpad(n::text, 9, '0'), '', true,
    t.at, CASE WHEN s.status <> 'draft' THEN t.at END,
    CASE WHEN s.status = 'completed' THEN t.at END, t.at
FROM generate_series(1, %(count)s) AS n,
    LATERAL (SELECT (%(statuses)s::text[])[1 + (n * 7) %% 20] AS status) AS s,
    LATERAL (SELECT now() - (n / 3) * interval '7 seconds' AS at) AS t;

INSERT INTO contracts_party (
    contract_id, position, kind, role, parallel, step, company, name, email, staff_id,
    access_code, access_code_digits, status, failed_attempts, notified_at, agreed_ip,
    agreed_user_agent, auth_method, shown_sha256, signed_at, reason
)
SELECT
    c.id, p.position, p.kind, 'signer', false, p.position,
    CASE WHEN p.position = 1 THEN c.counterparty_company ELSE '' END,
    CASE WHEN p.position = 1 THEN '山田 太郎' ELSE '市長 一郎' END,
    CASE WHEN p.position = 1 THEN 'party-' || c.certificate_id || '@example.jp'
         ELSE %(mayor_email)s END,
    CASE WHEN p.position = 2 THEN %(mayor)s::int END,
    '', false, CASE
        WHEN c.status = 'completed' THEN 'signed'
        WHEN c.status = 'draft' THEN 'waiting'
        WHEN c.status = 'rejected' AND p.position = 1 THEN 'rejected'
        WHEN c.status = 'in_progress' AND p.position = 1 AND c.certificate_id > %(half)s
            THEN 'signed'
        WHEN c.status = 'in_progress' AND c.certificate_id > %(half)s THEN 'notified'
        WHEN c.status IN ('in_progress', 'expired', 'cancelled') AND p.position = 1
            THEN 'notified'
        ELSE 'waiting' END,
    0, c.sent_at, NULL, '', '', '{}'::jsonb,
    CASE WHEN c.status = 'completed' THEN c.completed_at END, ''
FROM contracts_contract AS c,
    (VALUES (1, 'external'), (2, 'staff')) AS p(position, kind)
WHERE c.organisation_id = %(organisation)s AND c.certificate_id LIKE %(salt)s || '%%';
"""


def seed_contracts(
    personas: Any, *, author: Any, small: Any, count: int
) -> tuple[list[int], float]:
    """``count`` contracts by set-based SQL (see the module's docstring), made by ``author``,
    one in a thousand in department ``small``; the other departments' ids and the seconds it
    took (VACUUM ANALYZE included)."""
    from django.db import connection

    from keiyaku.accounts.services import department_get_or_create

    departments = [personas.sender.department_id] + [
        department_get_or_create(organisation=personas.org, name=f"ベンチ課{n}").pk
        for n in range(1, DEPARTMENTS)
    ]
    began = time.perf_counter()
    salt = personas.org.slug[-8:]
    with connection.cursor() as cursor:
        for statement in [s for s in _SEED_SQL.split(";\n") if s.strip()]:
            cursor.execute(
                statement,
                {
                    "salt": salt,
                    "count": count,
                    "organisation": personas.org.pk,
                    "author": author.pk,
                    "mayor": personas.mayor.pk,
                    "mayor_email": personas.mayor.email,
                    "departments": departments,
                    "department_count": len(departments),
                    "small": small.pk,
                    "statuses": STATUSES,
                    "half": f"{salt}{count // 2:09d}",
                },
            )
    with connection.cursor() as cursor:
        for table in ("storage_keyring", "contracts_contract", "contracts_party"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        # The load's dirty pages written out now, not by the checkpointer while the first
        # reader's figures are taken.
        cursor.execute("CHECKPOINT")
    return departments, time.perf_counter() - began


def _staff(personas: Any, name: str, role: str, department: Any) -> Any:
    from keiyaku.accounts.services import staff_create

    with _fast_hashes():
        return staff_create(
            organisation=personas.org,
            username=f"{name}-{personas.org.slug}",
            password=PASSWORD,
            display_name=f"{name} 太郎",
            email=f"{name}@{personas.org.slug}.example.jp",
            department=department,
            roles=[role],
        )


def _cursor_at(staff: Any, position: int) -> Any:
    """The cursor a 「次へ」 link carries to show the page after the ``position``-th row."""
    from keiyaku.contracts.list_page import Cursor
    from keiyaku.contracts.selectors import contracts_visible_to

    at, pk = (
        contracts_visible_to(staff)
        .order_by("-last_activity_at", "-pk")
        .values_list("last_activity_at", "pk")[position]
    )
    return Cursor(at, pk)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    rows: list[dict[str, Any]] = []
    plans: dict[str, str] = {}
    with installation() as site:  # Django is set up here
        from django.conf import settings
        from django.db import connection
        from django.test import Client

        from keiyaku.contracts.list_page import contract_list_page, contract_list_query
        from keiyaku.contracts.selectors import contracts_visible_to

        size = settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE
        with _fast_hashes():
            personas = _Personas()
        from keiyaku.accounts.models import Role
        from keiyaku.accounts.services import department_get_or_create

        # The admin is the author of every contract: the others see by department.
        admin = _staff(personas, "admin", Role.ADMIN, personas.sender.department)
        small = department_get_or_create(organisation=personas.org, name="ベンチ係")
        few = _staff(personas, "few", Role.SENDER, small)
        departments, seeded_in = seed_contracts(
            personas, author=admin, small=small, count=args.contracts
        )
        readers = {"sender": personas.sender, "admin": admin, "few": few}
        raw = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        with site.web(workers=args.web_workers, threads=4) as web:
            for name, staff in readers.items():
                client = Client()
                client.force_login(staff)
                cookie = cookie_of(client)
                # The floor of any staff page: session, staff, sign-in policy, navigation.
                floor = Target("/templates/", cookie)
                load(web.base_url, [floor], clients=2, seconds=0.5)
                staff_page = load(
                    web.base_url, [floor], clients=1, seconds=0, min_requests=args.requests
                )
                visible = contracts_visible_to(staff).count()
                depths = {"first page": None}
                for label, fraction in (("half-way", 0.5), ("near the end", 0.99)):
                    position = max(0, min(visible - size - 1, int(visible * fraction)))
                    depths[label] = _cursor_at(staff, position)
                for depth, cursor in depths.items():
                    path = "/" if cursor is None else f"/?after={cursor.token}"
                    # Both web workers' first requests (imports, connections) are not timed.
                    load(web.base_url, [Target(path, cookie)], clients=2, seconds=0.5)
                    page = load(
                        web.base_url,
                        [Target(path, cookie)],
                        clients=1,
                        seconds=0,
                        min_requests=args.requests,
                    )
                    query = contract_list_query(staff, size=size, after=cursor)
                    sql, params = query.query.sql_with_params()
                    shown = len(list(query))

                    def run_raw(sql: str = sql, params: tuple[Any, ...] = params) -> None:
                        raw.execute(sql, params).fetchall()

                    def run_orm(staff: Any = staff, cursor: Any = cursor) -> None:
                        contract_list_page(staff, size=size, after=cursor)

                    raw_p50, raw_p95 = timed(run_raw, args.requests)
                    orm_p50, orm_p95 = timed(run_orm, args.requests)
                    rows.append(
                        {
                            "reader": name,
                            "visible": visible,
                            "depth": depth,
                            "rows": min(shown, size),
                            "requests": page.requests,
                            "errors": page.errors,
                            "p50_ms": page.p50_ms,
                            "p95_ms": page.p95_ms,
                            "orm_p50_ms": orm_p50,
                            "orm_p95_ms": orm_p95,
                            "raw_p50_ms": raw_p50,
                            "raw_p95_ms": raw_p95,
                            "page_floor_p50_ms": staff_page.p50_ms,
                            "page_floor_p95_ms": staff_page.p95_ms,
                            "p95_ratio": page.p95_ms / max(raw_p95, 1e-9),
                            "p50_ratio": page.p50_ms / max(raw_p50, 1e-9),
                        }
                    )
                    if depth == "near the end":
                        plan = raw.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
                        plans[name] = "\n".join(line for (line,) in plan)
        raw.close()
    return {
        "contracts": args.contracts,
        "departments": len(departments),
        "page_size": size,
        "web_workers": args.web_workers,
        "seed_seconds": seeded_in,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "rows": rows,
        "plans": plans,
    }


def print_table(result: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(
        f"staff list benchmark: {result['contracts']} contracts (set-based SQL seed, "
        f"{result['seed_seconds']:.0f} s), {result['departments']} departments, "
        f"{result['page_size']} rows a page, {result['web_workers']} web workers; "
        f"{result['cpus']} CPUs, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in result['load_average'])}\n"
        "floor: the page's own SQL run raw with psycopg, same run (raw)\n"
    )
    out.write(
        f"{'reader':<7} {'visible':>8} {'page':<13} {'reqs':>5} {'err':>3} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'orm p50':>8} {'orm p95':>8} {'raw p50':>8} {'raw p95':>8} "
        f"{'p95/raw':>8}\n"
    )
    for row in result["rows"]:
        out.write(
            f"{row['reader']:<7} {row['visible']:>8} {row['depth']:<13} {row['requests']:>5} "
            f"{row['errors']:>3} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['orm_p50_ms']:8.1f} {row['orm_p95_ms']:8.1f} {row['raw_p50_ms']:8.2f} "
            f"{row['raw_p95_ms']:8.2f} {row['p95_ratio']:8.1f} "
            f"{row['page_floor_p50_ms']:9.1f} / {row['page_floor_p95_ms']:7.1f}\n"
        )
    for reader, plan in result["plans"].items():
        out.write(f"plan of the page near the end ({reader}):\n")
        out.write("".join(f"  {line}\n" for line in plan.splitlines()[:12]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="requests of each cell")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = measure(args)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
