"""KEIYAKU_DATABASE_URL (keiyaku/settings.py, database block): parsed by dj-database-url, refused
at start when it names an engine keiyaku is not tested on (issue 11, settings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from keiyaku.settings import _database

ROOT = Path(__file__).resolve().parents[1]


def test_no_url_is_the_embedded_sqlite_with_its_pragmas() -> None:
    config = _database("")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert str(config["NAME"]).endswith("keiyaku.sqlite3")
    assert config["OPTIONS"] == {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=2147483648;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }


def test_postgres_url_keeps_connections_and_checks_them() -> None:
    config = _database("postgres://keiyaku:p%40ss@db.city.lan:5433/keiyaku?sslmode=verify-full")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.city.lan", 5433, "keiyaku")
    assert (config["USER"], config["PASSWORD"]) == ("keiyaku", "p@ss")
    assert config["OPTIONS"] == {"sslmode": "verify-full", "options": "-c jit=off"}
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True


def test_postgres_connections_never_jit_compile_and_keep_the_urls_options() -> None:
    """A page's query over a million contracts may pass jit_above_cost while it runs in
    milliseconds; compiling it took 70 ms of 80 (bench/search.py)."""
    config = _database("postgres://k@db/keiyaku?options=-c%20statement_timeout%3D5000")
    assert config["OPTIONS"] == {"options": "-c statement_timeout=5000 -c jit=off"}


def test_postgres_url_with_a_socket_folder() -> None:
    config = _database("postgresql://keiyaku@%2Fvar%2Frun%2Fpostgresql/keiyaku")
    assert config["HOST"] == "/var/run/postgresql"
    assert config["NAME"] == "keiyaku"


def test_sqlite_url_gets_the_same_pragmas_and_no_kept_connections() -> None:
    config = _database("sqlite:////srv/keiyaku/db.sqlite3")
    assert config["NAME"] == "/srv/keiyaku/db.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"  # type: ignore[index]
    assert config["CONN_MAX_AGE"] == 0


@pytest.mark.parametrize(
    "url",
    ["mysql://keiyaku@db/keiyaku", "oracle://db/x", "db.city.lan/keiyaku", "postgres://db/"],
)
def test_unsupported_or_incomplete_urls_are_refused(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="KEIYAKU_DATABASE_URL"):
        _database(url)


def test_keiyaku_refuses_to_start_with_an_unsupported_database(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KEIYAKU_DATA_DIR": str(tmp_path),
        "KEIYAKU_DATABASE_URL": "mysql://keiyaku@db.city.lan/keiyaku",
        "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "keiyaku.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "KEIYAKU_DATABASE_URL: unsupported database 'mysql'" in result.stderr
