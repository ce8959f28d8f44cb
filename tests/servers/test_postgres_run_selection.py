"""The PostgreSQL run of `make test` leaves out exactly the tests that cannot reach a database
and those marked ``database_independent`` (tests/conftest.py `pytest_collection_modifyitems`),
and no other test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_EXAMPLE = """
import pytest

def test_pure_function():
    assert 1 + 1 == 2

@pytest.mark.django_db
def test_marked():
    pass

def test_through_a_fixture(db):
    pass

@pytest.fixture
def world(transactional_db):
    return 1

def test_through_another_fixture(world):
    pass

@pytest.mark.django_db
@pytest.mark.database_independent
def test_about_a_pdf_not_the_database():
    pass
"""


def _collected(tmp_path: Path, database: str) -> set[str]:
    example = ROOT / "tests" / f"_selection_example_{os.getpid()}_{database}.py"
    example.write_text(_EXAMPLE)
    try:
        env = {**os.environ, "KEIYAKU_TEST_DATABASE": database}
        env.pop("KEIYAKU_TEST_EVERY_TEST", None)
        if database == "postgres":
            # Collection only: no test runs, so no server is needed; tests/settings.py must not
            # start one either.
            env["KEIYAKU_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/never"
        answer = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:xdist",
                str(example),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        example.unlink()
    assert answer.returncode == 0, answer.stdout + answer.stderr
    return {line.split("::")[-1] for line in answer.stdout.splitlines() if "::" in line}


def test_the_postgres_run_leaves_out_only_tests_without_a_database(tmp_path: Path) -> None:
    every = {
        "test_pure_function",
        "test_marked",
        "test_through_a_fixture",
        "test_through_another_fixture",
        "test_about_a_pdf_not_the_database",
    }
    assert _collected(tmp_path, "sqlite") == every
    assert _collected(tmp_path, "postgres") == every - {
        "test_pure_function",
        "test_about_a_pdf_not_the_database",
    }
