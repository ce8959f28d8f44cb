"""`make test` runs the suite twice; each run must really be on the database it names, never
quietly on SQLite when PostgreSQL was asked for (tests/settings.py)."""

from __future__ import annotations

import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_it_was_asked_for() -> None:
    asked = os.environ["KEIYAKU_TEST_DATABASE"]
    assert connection.vendor == {"sqlite": "sqlite", "postgres": "postgresql"}[asked]
    # Each xdist worker has its own test database (pytest-django adds the worker's name).
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        assert worker in str(connection.settings_dict["NAME"])
