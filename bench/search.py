"""Benchmark: contract search over a million contracts, on SQLite and PostgreSQL (issue 15,
acceptance 6).

    .venv/bin/python bench/search.py [--contracts 1000000] [--requests 20] [--json FILE]

Each engine runs in a process of its own (Django is set up once per process): an embedded
SQLite file, and a private PostgreSQL cluster (tests/servers/postgres.py). The organisation, its
departments and its staff are made through the services; the contracts are not (a million
through the services would take days): they are generated in Python and written in bulk in the
shape the services leave them, as bench/staff_list.py does: one key ring each, two parties (the
counterparty's representative, then the mayor), statuses over every contract state, ten
departments. Titles and counterparties are realistic Japanese: 「令和7年度 手稲区前田 道路補修工事
請負契約」 made of a fiscal year, a place (区 and 地区), a kind of work or 業務 and a contract
type, and companies such as 「株式会社丸山建設」 or 「北栄電気工業株式会社」; so a word matches from a
handful of rows (a place's 地区, a 管理番号 fragment) to hundreds of thousands (「工事」).
Amounts, contract dates, period ends and signing days are spread over five years.

The word index is written with the rows: each contract's `SearchText` rows are exactly what
`search_index.index_rows` makes of its title, 管理番号 and counterparty texts (computed by it,
memoised per text), and a sample of them is checked against `index_rows(contract_fields(…))`
read back from the database. SQLite's FTS5 table is filled by its triggers; PostgreSQL's GIN
index is built over the loaded rows. Then ANALYZE, as autovacuum would.

Measured, for each of 20 typical combined searches (`SEARCHES`: keywords of 2 and more
characters, a 管理番号 fragment, a word with an amount range, date ranges, counterparty and
status, department and period end, a word nothing matches), for two readers (the admin, who
sees every contract, and a sender of one department of ten, who sees a tenth through the
visibility filter's parts):

- ``page``: ``GET /?<conditions>`` through Django's test client in this process: the whole
  search page's code path (middleware, session, the form, `contract_list_page`, the template);
  ``--requests`` times after two warm-up requests, median and p95;
- ``floor``: the queries the page's `contract_list_page` sends (captured from the database
  wrapper while the page renders once: their SQL text and parameters; the word index's probe,
  where a walk stops, the list query or queries) run raw through the driver (sqlite3 /
  psycopg) on a connection of its own, their rows fetched: no ORM, no rendering;

- ``fixed``: the same request with `contract_list_page` answering an empty page at once: what
  the page costs around its list reading (middleware, session, the form, the template without
  rows), median;

``ratio`` is the page's p95 over the floor's p95. ``list÷floor`` is the list reading as the page
pays for it (the page's median less ``fixed``: the ORM, the rows and their rendering) over the
floor's median: how close keiyaku's reading comes to its own SQL, apart from what any page
costs. The plan of the slowest floor per reader is printed. No figure is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import timed  # noqa: E402

PASSWORD = "correct horse battery"  # noqa: S105 - a throw-away benchmark organisation
DEPARTMENTS = 10
STATUSES = ["completed"] * 11 + ["in_progress"] * 5 + ["draft", "rejected", "cancelled", "expired"]

# --- realistic titles and companies ------------------------------------------------------------

WARDS = ("中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区")
DISTRICTS = (
    "大通", "円山", "宮の森", "琴似", "発寒", "新琴似", "屯田", "篠路", "麻生", "栄町", "元町",
    "伏古", "苗穂", "菊水", "本郷", "川下", "大谷地", "もみじ台", "月寒", "平岸", "美園", "西岡",
    "里塚", "真栄", "真駒内", "藤野", "簾舞", "定山渓", "八軒", "西野", "平和", "前田", "星置",
    "稲穂", "富丘", "山口",
)  # fmt: skip
WORKS = (
    "道路補修工事", "道路舗装工事", "橋梁補修工事", "下水道管渠更生工事", "配水管布設替工事",
    "河川改修工事", "公園整備工事", "小学校校舎改修工事", "中学校体育館改修工事",
    "庁舎空調設備更新工事", "街路灯LED化工事", "除雪業務", "排雪業務", "清掃業務", "警備業務",
    "電算システム保守業務", "基幹システム改修業務", "測量設計業務", "地質調査業務",
    "学校給食調理業務", "ごみ収集運搬業務", "施設管理業務", "消防車両購入", "事務用品購入",
    "複合機賃貸借", "公用車賃貸借", "ＯＡ機器保守", "水道メーター購入", "橋梁点検業務",
    "市民会館舞台設備保守",
)  # fmt: skip
KINDS = ("請負契約", "委託契約", "売買契約", "賃貸借契約")
COMPANY_CORES = (
    "丸山", "北栄", "札幌", "石狩", "大成", "三和", "東邦", "日本", "北海", "中央", "新川",
    "豊平", "協和", "大和", "藤田", "岩田", "佐藤", "高橋", "北央", "栄和", "朝日", "平和",
    "光陽", "白樺", "羊蹄", "石山", "千歳", "恵庭", "江別", "小樽",
)  # fmt: skip
COMPANY_TRADES = (
    "建設", "土木", "設備", "電気工業", "工業", "開発", "システム", "測量設計", "警備保障",
    "清掃", "サービス", "商事", "運輸", "技研", "産業",
)  # fmt: skip
SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
GIVEN = ("太郎", "花子", "一郎", "次郎", "美咲", "健一", "直樹", "陽子", "誠", "恵")
FIRST_DAY = date(2021, 4, 1)
DAYS = 5 * 365


def company(n: int) -> str:
    core = COMPANY_CORES[n % len(COMPANY_CORES)]
    trade = COMPANY_TRADES[(n // len(COMPANY_CORES)) % len(COMPANY_TRADES)]
    form = (n // (len(COMPANY_CORES) * len(COMPANY_TRADES))) % 3
    return (f"株式会社{core}{trade}", f"{core}{trade}株式会社", f"有限会社{core}{trade}")[form]


COMPANIES = len(COMPANY_CORES) * len(COMPANY_TRADES) * 3


def contract_row(n: int, rng: random.Random) -> dict[str, Any]:
    """The n-th generated contract's searchable values."""
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    fiscal = day.year - 2018 - (1 if day.month < 4 else 0)  # 令和 year of the fiscal year
    ward = rng.choice(WARDS)
    work = WORKS[min(len(WORKS) - 1, int(rng.paretovariate(0.9)) - 1)]
    title = f"令和{fiscal}年度 {ward}{rng.choice(DISTRICTS)} {work} {rng.choice(KINDS)}"
    trade = "土木" if "工事" in work else ("物品" if "購入" in work else "委託")
    amount = round(10 ** rng.uniform(5, 8.7), -3)
    return {
        "title": title,
        "number": f"R{fiscal}-{trade}-{n:07d}",
        "company": company(rng.randrange(COMPANIES)),
        "representative": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
        "amount": int(amount),
        "contract_date": day,
        "period_end": day + timedelta(days=rng.choice((90, 180, 365, 365, 730))),
        "status": STATUSES[(n * 7) % 20],
        "activity": datetime.combine(day, datetime.min.time(), UTC)
        + timedelta(hours=9, seconds=rng.randrange(9 * 3600)),
    }


# --- the searches ------------------------------------------------------------------------------


def searches(department: int) -> list[tuple[str, dict[str, Any]]]:
    """The 20 searches (label, query string) timed; ``department``: the one filtered on."""
    return [
        ("keyword 道路 (2 chars)", {"q": "道路"}),
        ("keyword 札幌 (2 chars)", {"q": "札幌"}),
        ("keyword 橋梁補修", {"q": "橋梁補修"}),
        ("keyword 下水道管渠", {"q": "下水道管渠"}),
        ("keyword 定山渓 (rare)", {"q": "定山渓"}),
        ("keyword 宇宙 (no match)", {"q": "宇宙"}),
        ("管理番号 fragment", {"number": "0012345"}),
        ("管理番号 R7-土木", {"number": "R7-土木"}),
        ("keyword 工事 (very common)", {"q": "工事"}),
        ("道路 + amount 1M-5M", {"q": "道路", "amount_min": 1000000, "amount_max": 5000000}),
        ("除雪 + contract date FY", {"q": "除雪", **_range("contract_date", "2024-04-01", 365)}),
        ("counterparty + completed", {"counterparty": "丸山建設", "status": "completed"}),
        (
            "株式会社 + amount 10M-50M",
            {"counterparty": "株式会社", "amount_min": 10**7, "amount_max": 5 * 10**7},
        ),  # fmt: skip
        (
            "department + period end",
            {"department": department, **_range("period_end", "2025-01-01", 90)},
        ),  # fmt: skip
        ("amount 10M-11M only", {"amount_min": 10**7, "amount_max": 11 * 10**6}),
        ("contract date 1 month", _range("contract_date", "2023-06-01", 30)),
        ("signed 1 week + completed", {**_range("signed", "2024-10-01", 7), "status": "completed"}),
        ("title 清掃 + keyword 中央", {"title": "清掃", "q": "中央"}),
        ("道路 補修 (two words)", {"q": "道路 補修"}),
        (
            "in progress + period end",
            {"status": "in_progress", **_range("period_end", "2026-04-01", 30)},
        ),  # fmt: skip
    ]


def _range(name: str, start: str, days: int) -> dict[str, str]:
    first = date.fromisoformat(start)
    return {f"{name}_from": start, f"{name}_to": (first + timedelta(days=days)).isoformat()}


# --- timing ------------------------------------------------------------------------------------


# --- one engine, in its own process -----------------------------------------------------------


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """Bulk rows into a table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, vendor: str) -> None:
        from django.db import connection

        self.vendor = vendor
        self.connection = connection

    def value(self, value: Any) -> Any:
        if self.vendor == "postgresql":
            return value
        if isinstance(value, uuid.UUID):
            return value.hex
        if isinstance(value, datetime):
            return str(value.astimezone(UTC).replace(tzinfo=None))
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                names = ", ".join(columns)
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                cursor.connection.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    [tuple(self.value(v) for v in row) for row in rows],
                )


_CONTRACT_COLUMNS = (
    "id", "organisation_id", "created_by_id", "department_id", "keyring_id", "title",
    "management_number", "counterparty_company", "amount", "contract_date", "period_start",
    "period_end", "auto_renew", "note", "status", "certificate_id", "status_reason",
    "allow_forwarding", "created_at", "sent_at", "completed_at", "last_activity_at",
)  # fmt: skip
_PARTY_COLUMNS = (
    "contract_id", "position", "kind", "role", "parallel", "step", "company", "name", "email",
    "staff_id", "access_code", "access_code_digits", "status", "failed_attempts", "notified_at",
    "agreed_user_agent", "auth_method", "shown_sha256", "signed_at", "reason",
)  # fmt: skip


def seed(
    *, organisation: Any, author: Any, mayor: Any, departments: list[int], count: int
) -> dict[str, Any]:
    """``count`` contracts (see the module's docstring) with their key rings, parties and word
    index rows; figures of the load."""
    from django.db import connection, transaction

    from keiyaku.contracts.search_index import SearchField, index_rows

    vendor = connection.vendor
    writer = _Writer(vendor)
    rng = random.Random(15)  # noqa: S311 - generated data, not secrets
    memo: dict[tuple[str, str], list[str]] = {}

    def grams(field: str, texts: list[str]) -> list[tuple[str, str]]:
        found: dict[str, None] = {}
        for text in texts:
            key = (field, text)
            if key not in memo:
                memo[key] = [g for _f, g in index_rows({field: [text]}, vendor)]
            found.update(dict.fromkeys(memo[key]))
        return [(field, g) for g in found]

    began = time.perf_counter()
    index_rows_written = 0
    salt = uuid.uuid4().hex[:8]
    for batch in _batches(iter(range(1, count + 1)), 20_000):
        keyrings, contracts, parties, texts = [], [], [], []
        for n in batch:
            row = contract_row(n, rng)
            pk, keyring = uuid.uuid4(), uuid.uuid4()
            at = row["activity"]
            status = row["status"]
            keyrings.append((keyring, b"\x00", at))
            contracts.append(
                (
                    pk, organisation.pk, author.pk, departments[n % len(departments)], keyring,
                    row["title"], row["number"], row["company"], row["amount"],
                    row["contract_date"], row["contract_date"], row["period_end"], False, "",
                    status, f"{salt}{n:09d}", "", True, at,
                    at if status != "draft" else None, at if status == "completed" else None, at,
                )
            )  # fmt: skip
            done = status == "completed"
            for position, kind, company_name, name, email, staff in (
                (1, "external", row["company"], row["representative"], f"p{n}@example.jp", None),
                (2, "staff", "", mayor.display_name, mayor.email, mayor.pk),
            ):
                parties.append(
                    (
                        pk, position, kind, "signer", False, position, company_name, name, email,
                        staff, "", False, "signed" if done else "waiting", 0,
                        at if status != "draft" else None, "", "", "{}", at if done else None, "",
                    )
                )  # fmt: skip
            for field, given in (
                (SearchField.TITLE, [row["title"]]),
                (SearchField.NUMBER, [row["number"]]),
                (
                    SearchField.COUNTERPARTY,
                    [row["company"], row["company"], row["representative"], "", mayor.display_name],
                ),
            ):
                texts.extend((pk, field, g) for field, g in grams(field, given))
        with transaction.atomic():
            writer.write("storage_keyring", ("id", "wrapped_key", "created_at"), keyrings)
            writer.write("contracts_contract", _CONTRACT_COLUMNS, contracts)
            writer.write("contracts_party", _PARTY_COLUMNS, parties)
            writer.write("contracts_searchtext", ("contract_id", "field", "grams"), texts)
        index_rows_written += len(texts)
    loaded = time.perf_counter() - began
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("REINDEX INDEX contracts_searchtext_grams")
            for table in ("storage_keyring", "contracts_contract", "contracts_party"):
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("VACUUM ANALYZE contracts_searchtext")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("INSERT INTO contracts_searchtext_fts(contracts_searchtext_fts) "
                           "VALUES ('optimize')")  # fmt: skip
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "seed_seconds": time.perf_counter() - began,
        "load_seconds": loaded,
        "index_rows": index_rows_written,
    }


def check_index_sample(organisation: Any, sample: int = 50) -> int:
    """Compare the seeded index rows of ``sample`` contracts with what `index_rows` makes of
    `contract_fields` read back from the database; raises AssertionError on a difference."""
    from django.db import connection

    from keiyaku.contracts.models import Contract, SearchText
    from keiyaku.contracts.search_index import contract_fields, index_rows

    ids = list(
        Contract.objects.filter(organisation=organisation)
        .order_by("certificate_id")
        .values_list("pk", flat=True)[:sample]
    )
    for pk in ids:
        expected = sorted(index_rows(contract_fields(pk), connection.vendor))
        seeded = sorted(SearchText.objects.filter(contract_id=pk).values_list("field", "grams"))
        assert seeded == expected, (pk, seeded, expected)
    return len(ids)


def _raw_connection(vendor: str) -> Any:
    from django.db import connection

    if vendor == "postgresql":
        import psycopg

        return psycopg.connect(**connection.get_connection_params(), autocommit=True)
    import sqlite3

    raw = sqlite3.connect(connection.settings_dict["NAME"])
    # The pragmas keiyaku's own connections run (settings._SQLITE_OPTIONS): the same reads.
    for pragma in connection.settings_dict["OPTIONS"].get("init_command", "").split(";"):
        if pragma.strip():
            raw.execute(pragma)
    return raw


_FORMAT_MARK = re.compile(r"(?<!%)%s")


def _raw_sql(vendor: str, sql: str) -> str:
    """The SQL text as the driver takes it (SQLite's qmark placeholders)."""
    if vendor == "postgresql":
        return sql
    return _FORMAT_MARK.sub("?", sql).replace("%%", "%")


def _plan(raw: Any, vendor: str, sql: str, params: Any) -> str:
    if vendor == "postgresql":
        rows = raw.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
        return "\n".join(line for (line,) in rows)
    rows = raw.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return "\n".join(f"{row[0]:>3} {row[1]:>3} {row[3]}" for row in rows)


def _organisation() -> tuple[Any, Any, Any, Any, list[int]]:
    """The benchmark's organisation, its admin, mayor and one department's sender, and its
    ten departments' ids, made through the services."""
    from keiyaku.accounts.models import Department, Role
    from keiyaku.accounts.services import (
        department_get_or_create,
        organisation_create,
        staff_create,
    )

    org = organisation_create(name="ベンチ市", slug=f"search-{uuid.uuid4().hex[:8]}")
    departments = [
        department_get_or_create(organisation=org, name=f"{ward}土木部").pk for ward in WARDS
    ]

    admin = staff_create(
        organisation=org,
        username=f"admin-{org.slug}",
        password=PASSWORD,
        display_name="管理 太郎",
        email=f"admin@{org.slug}.example.jp",
        roles=[Role.ADMIN],
    )
    mayor = staff_create(
        organisation=org,
        username=f"mayor-{org.slug}",
        password=PASSWORD,
        display_name="市長 一郎",
        email=f"mayor@{org.slug}.example.jp",
        roles=[Role.SIGNER],
    )
    sender = staff_create(
        organisation=org,
        username=f"sender-{org.slug}",
        password=PASSWORD,
        display_name="契約 花子",
        email=f"sender@{org.slug}.example.jp",
        department=Department.objects.get(pk=departments[3]),
        roles=[Role.SENDER],
    )
    return org, admin, mayor, sender, departments


def _trace_list_reading() -> dict[str, bool]:
    """Marks when the contract list view is inside `contract_list_page` (whose queries make
    the floor): ``{"inside": True}`` meanwhile. With ``"skip"`` set, `contract_list_page`
    answers an empty page without reading anything (the ``fixed`` figure)."""
    from keiyaku.contracts.list_page import ListPage
    from keiyaku.web.views import contracts as views

    reading = {"inside": False, "skip": False}
    original = views.contract_list_page

    def traced(*args: Any, **kwargs: Any) -> Any:
        if reading["skip"]:  # the page around its list: an empty list at once
            return ListPage(rows=[], after=None, before=None)
        reading["inside"] = True
        try:
            return original(*args, **kwargs)
        finally:
            reading["inside"] = False

    views.contract_list_page = traced  # type: ignore[assignment]
    return reading


def measure_engine(args: argparse.Namespace) -> dict[str, Any]:
    """Set up Django on ``args.engine``, seed and time every search (see the module)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from keiyaku.accounts.models import Organisation, Staff
    from keiyaku.operations.static_files import collect_static_if_needed

    call_command("migrate", interactive=False, verbosity=0)
    collect_static_if_needed()
    vendor = connection.vendor
    kept = args.keep / "seeded.json" if args.keep else None
    if (
        kept is not None
        and kept.exists()
        and json.loads(kept.read_text())["contracts"] == args.contracts
    ):
        # Seeded by an earlier run with --keep: measure again on the same data.
        known = json.loads(kept.read_text())
        org = Organisation.objects.get(pk=known["organisation"])
        admin, mayor, sender = (
            Staff.objects.get(pk=known[k]) for k in ("admin", "mayor", "sender")
        )
        departments = known["departments"]
        seeded = known["seeded"]
    else:
        org, admin, mayor, sender, departments = _organisation()
        seeded = seed(
            organisation=org,
            author=admin,
            mayor=mayor,
            departments=departments,
            count=args.contracts,
        )
        if kept is not None:
            kept.write_text(
                json.dumps(
                    {
                        "contracts": args.contracts,
                        "organisation": org.pk,
                        "admin": admin.pk,
                        "mayor": mayor.pk,
                        "sender": sender.pk,
                        "departments": departments,
                        "seeded": seeded,
                    }
                )
            )
    checked = check_index_sample(org)
    from keiyaku.operations.warm_up import start_up_objects_freeze

    start_up_objects_freeze()  # as each web worker does once loaded (keiyaku.wsgi)
    raw = _raw_connection(vendor)
    rows: list[dict[str, Any]] = []
    plans: dict[str, Any] = {}
    reading = _trace_list_reading()
    for reader_name, reader in (("admin", admin), ("dept", sender)):
        client = Client()
        client.force_login(reader)
        for label, conditions in searches(departments[3]):
            if args.only and not any(part in label for part in args.only.split(",")):
                continue
            path = "/?" + urlencode(conditions, doseq=True)
            captured: list[tuple[str, Any]] = []

            def capture(execute, sql, params, many, context, captured=captured):  # type: ignore[no-untyped-def]
                if reading["inside"]:
                    captured.append((_raw_sql(vendor, sql), params))
                return execute(sql, params, many, context)

            with connection.execute_wrapper(capture):
                response = client.get(path)
            assert response.status_code == 200, (label, response.status_code)
            assert b'class="errorlist' not in response.content, label
            lists = [c for c in captured if "list_parties" in c[0]]
            assert lists, label
            shown = len(raw.execute(*lists[-1]).fetchall())

            def page(path: str = path, client: Any = client) -> None:
                client.get(path)

            def floor(queries: list[tuple[str, Any]] = captured) -> None:
                for sql, params in queries:
                    raw.execute(sql, params).fetchall()

            p50, p95 = timed(page, args.requests)
            floor_p50, floor_p95 = timed(floor, args.requests)
            reading["skip"] = True
            try:
                fixed_p50, _fixed_p95 = timed(page, args.requests)
            finally:
                reading["skip"] = False
            rows.append(
                {
                    "engine": vendor,
                    "reader": reader_name,
                    "search": label,
                    "query": path,
                    "rows": shown,
                    "queries": len(captured),
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "floor_p50_ms": floor_p50,
                    "floor_p95_ms": floor_p95,
                    "ratio": p95 / max(floor_p95, 1e-9),
                    "fixed_p50_ms": fixed_p50,
                    "list_ratio": (p50 - fixed_p50) / max(floor_p50, 1e-9),
                    "sql": [sql for sql, _params in captured],
                    "params": [[str(p) for p in params] for _sql, params in captured],
                }
            )
            slowest = plans.get(reader_name)
            if slowest is None or floor_p95 > slowest["floor_p95_ms"]:
                plans[reader_name] = {
                    "search": label,
                    "floor_p95_ms": floor_p95,
                    "plan": "\n\n".join(_plan(raw, vendor, sql, params) for sql, params in lists),
                }
    raw.close()
    return {
        "engine": vendor,
        "contracts": args.contracts,
        **seeded,
        "index_checked": checked,
        "rows": rows,
        "plans": plans,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def production_memory() -> dict[str, str]:
    """PostgreSQL's memory settings as a database server of a city would have them: a quarter
    of the machine's memory for shared buffers (at most 4 GB; a million contracts take
    3.6 GB), and the rest as the planner's idea of the operating system's cache (the tests'
    cluster has 128 MB of shared buffers, which leaves most index reads to the kernel)."""
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    shared = min(4096, memory_mb // 4)
    return {
        "shared_buffers": f"{shared}MB",
        "effective_cache_size": f"{max(shared, memory_mb // 2)}MB",
    }


def run_engine(engine: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``bench/search.py --engine <engine>`` in a child process with its own settings."""
    from tests.servers.postgres import running_postgres

    with ExitStack() as stack:
        if args.keep:
            folder = args.keep / engine
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(tempfile.mkdtemp(prefix="keiyaku-search-bench-"))
            stack.callback(shutil.rmtree, folder, True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("KEIYAKU_") and k != "DJANGO_SETTINGS_MODULE"
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
                "PYTHONPATH": str(ROOT),
                "KEIYAKU_DATA_DIR": str(folder / "data"),
                "KEIYAKU_LOG_LEVEL": "WARNING",
                "KEIYAKU_TASKS_IMMEDIATE": "1",
            }
        )
        if engine == "postgresql":
            cluster = running_postgres(folder / "pg" if args.keep else None, production_memory())
            env["KEIYAKU_DATABASE_URL"] = stack.enter_context(cluster).url()
        else:
            env["KEIYAKU_DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
        command = [sys.executable, __file__, "--engine", engine, "--json", str(out)]
        command += ["--contracts", str(args.contracts), "--requests", str(args.requests)]
        if args.keep:
            command += ["--keep", str(folder)]
        if args.only:
            command += ["--only", args.only]
        subprocess.run(command, env=env, check=True)  # noqa: S603 - our own script
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def print_table(results: list[dict[str, Any]]) -> None:
    out = sys.stdout
    for result in results:
        out.write(
            f"search benchmark, {result['engine']}: {result['contracts']} contracts, "
            f"{result['index_rows']} index rows (seeded in {result['seed_seconds']:.0f} s, "
            f"{result['index_checked']} checked against index_rows); {result['cpus']} CPUs, "
            f"load average {', '.join(f'{x:.1f}' for x in result['load_average'])}\n"
        )
    out.write(
        "page: GET /?<conditions> in-process (form, list reading, template); floor: the "
        "queries of the page's list reading (q) run raw through the driver, same run; fixed: "
        "the page with an empty list and no reading (median); list÷floor: (page − fixed) ÷ "
        "floor, medians\n"
    )
    out.write(
        f"{'search':<28} {'engine':<10} {'reader':<6} {'rows':>4} {'q':>2} {'median':>7} {'p95':>7} "
        f"{'floor p95':>9} {'ratio':>6} {'fixed':>6} {'list÷floor':>10}\n"
    )
    for result in results:
        for row in result["rows"]:
            out.write(
                f"{row['search']:<28} {row['engine']:<10} {row['reader']:<6} {row['rows']:>4} "
                f"{row['queries']:>2} "
                f"{row['p50_ms']:7.1f} {row['p95_ms']:7.1f} {row['floor_p95_ms']:9.2f} "
                f"{row['ratio']:6.1f} {row['fixed_p50_ms']:6.1f} {row['list_ratio']:10.1f}\n"
            )
    for result in results:
        for reader, plan in result["plans"].items():
            out.write(
                f"plan of the slowest floor, {result['engine']}, {reader}: {plan['search']} "
                f"({plan['floor_p95_ms']:.1f} ms)\n"
            )
            out.write("".join(f"  {line}\n" for line in plan["plan"].splitlines()[:25]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per search")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # the child of one engine
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--keep",
        type=Path,
        help="seed into this folder once and measure its data again on later runs (short path)",
    )
    parser.add_argument("--only", help="measure only the searches whose label has one of these")
    args = parser.parse_args()
    if args.engine:
        result = measure_engine(args)
        args.json.write_text(json.dumps(result, indent=1, default=str))
        return
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for engine in args.engines.split(","):
            results.append(run_engine(engine, args, Path(folder) / f"{engine}.json"))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({"engines": results}, indent=1, default=str))


if __name__ == "__main__":
    main()
