"""The web and worker benchmarks (bench/web.py, bench/worker.py) still run, in a tiny mode.

`make bench` runs them at full size; this keeps their harness from rotting between runs: the
production set-up starts, the seeded pages answer 200, signatures are made through Redis, and
every figure is produced. No timing is asserted (the machine running the suite is not one to
measure on).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    os.environ.get("KEIYAKU_TEST_DATABASE") == "postgres",
    reason="the benchmarks start their own PostgreSQL, Redis and S3: run once, in the SQLite run",
)


def _run_bench(script: str, tmp_path: Path, *args: str) -> dict:
    out = tmp_path / f"{script}.json"
    # The bench sets up its own installation: nothing of this test run's settings.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEIYAKU_") and k != "DJANGO_SETTINGS_MODULE"
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(out)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "floor" in done.stdout
    return json.loads(out.read_text())


@pytest.mark.slow(seconds=35)
def test_web_bench_measures_every_endpoint_against_its_floor(tmp_path: Path) -> None:
    result = _run_bench(
        "web.py",
        tmp_path,
        *("--contracts", "4", "--sessions", "2", "--clients", "1,2"),
        *("--web-workers", "1", "--seconds", "0.3", "--min-requests", "2"),
        *("--seed-processes", "1"),
    )
    rows = result["rows"]
    cells = {(row["clients"], row["endpoint"]) for row in rows}
    endpoints = ("static (floor)", "healthz", "staff list", "document page", "page image")
    timed = {(clients, name) for clients in (1, 2) for name in endpoints}
    assert cells == timed | {(1, "page image, first")}
    first = next(row for row in rows if row["endpoint"] == "page image, first")
    assert first["requests"] == 4  # each page image once, before the timed runs
    for row in rows:
        assert row["requests"] > 0 and row["errors"] == 0, row
        assert row["p50_ms"] > 0 and row["rps"] > 0, row
        assert row["rps_ratio"] > 0 or row is first, row  # no floor beside the first requests
    assert result["page_images"] == 4  # two counterparties, a two-page document each
    assert [m["pid"] for m in result["memory"]][-1] == "master"
    assert all(m["rss_mb"] > 0 for m in result["memory"])


@pytest.mark.slow(seconds=65)
def test_worker_bench_signs_through_the_queue_and_completes_a_contract(tmp_path: Path) -> None:
    result = _run_bench(
        "worker.py",
        tmp_path,
        *("--burst", "2", "--consumers", "1", "--idle-seconds", "0.2", "--idle-runs", "1"),
        *("--seed-processes", "1"),
    )
    (burst,) = result["bursts"]
    assert burst["consumers"] == 1 and burst["signatures"] == 2
    assert burst["per_second"] > 0 and burst["floor_per_second"] > 0
    assert [idle["queue"] for idle in result["idle"]] == ["redis", "sqlite"]
    for idle in result["idle"]:
        assert idle["queue_median_s"] > 0 and idle["inline_median_s"] > 0, idle
        assert idle["sign_pickup_max_s"] >= 0 and idle["complete_pickup_max_s"] >= 0, idle
    assert len(result["memory"]) == 1 and result["memory"][0]["rss_mb"] > 0


def test_staff_list_bench_times_each_page_beside_its_raw_sql(tmp_path: Path) -> None:
    result = _run_bench("staff_list.py", tmp_path, "--contracts", "2000", "--requests", "3")
    rows = result["rows"]
    readers = ("sender", "admin", "few")
    depths = ("first page", "half-way", "near the end")
    assert [(row["reader"], row["depth"]) for row in rows] == [
        (reader, depth) for reader in readers for depth in depths
    ]
    visible = {row["reader"]: row["visible"] for row in rows}
    # Ten departments share the contracts but for one in a thousand, the small department's.
    assert visible == {"sender": 198, "admin": 2000, "few": 2}
    for row in rows:
        assert row["requests"] == 3 and row["errors"] == 0, row
        assert row["rows"] > 0, row
        assert row["p95_ms"] > 0 and row["raw_p95_ms"] > 0 and row["p95_ratio"] > 0, row
        assert row["page_floor_p95_ms"] > 0, row
    assert "contracts_contract" in result["plans"]["sender"]


@pytest.mark.slow(seconds=45)
def test_search_bench_times_each_search_beside_its_raw_sql(tmp_path: Path) -> None:
    result = _run_bench("search.py", tmp_path, "--contracts", "2000", "--requests", "2")
    engines = result["engines"]
    assert [engine["engine"] for engine in engines] == ["sqlite", "postgresql"]
    for engine in engines:
        # Five index rows a contract (title, 管理番号, three counterparty texts), a sample
        # checked against what index_rows makes of the contract read back.
        assert engine["index_rows"] == 5 * 2000 and engine["index_checked"] == 50
        rows = engine["rows"]
        assert len(rows) == 40 and {row["reader"] for row in rows} == {"admin", "dept"}
        assert len({row["search"] for row in rows}) == 20
        for row in rows:
            assert row["p95_ms"] > 0 and row["floor_p95_ms"] > 0 and row["ratio"] > 0, row
            # The page around its list (no reading) costs something, and less than the page.
            assert 0 < row["fixed_p50_ms"] < row["p50_ms"] * 1.5, row
        found = {(row["reader"], row["search"]): row["rows"] for row in rows}
        assert found["admin", "keyword 宇宙 (no match)"] == 0
        assert found["admin", "keyword 道路 (2 chars)"] == 51  # a page and the one beyond
        assert found["dept", "keyword 道路 (2 chars)"] <= found["admin", "keyword 道路 (2 chars)"]
        assert set(engine["plans"]) == {"admin", "dept"}


@pytest.mark.slow(seconds=30)
def test_api_bench_times_list_and_get_beside_the_orm(tmp_path: Path) -> None:
    result = _run_bench(
        "api.py",
        tmp_path,
        *("--contracts", "200", "--clients", "3", "--seconds", "0.5", "--requests", "3"),
    )
    rows = result["rows"]
    assert [row["read"] for row in rows] == ["list", "get"]
    for row in rows:
        assert row["requests"] >= 3 and row["errors"] == 0, row
        assert row["p95_ms"] > 0 and row["orm_p95_ms"] > 0 and row["p95_ratio"] > 0, row
        # Every call the bench made is in the audit log under the token (R39, R40).
        assert row["audited"] >= row["requests"], row
        assert row["lock_samples"] > 0, row
