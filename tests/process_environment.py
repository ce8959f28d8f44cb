"""The environment of a keiyaku process that a test starts on its own database.

A process started with ``DJANGO_SETTINGS_MODULE=keiyaku.settings`` and nothing else opens the
installation's database in the data folder: on a machine where ``make run`` has migrated one
it works, on a fresh one the tables are missing. Every process that reads or writes keiyaku's
data (web, consumer, ``keiyaku verify`` …) starts from ``on_test_database`` instead: the test
settings, the test's own database (tests/settings.py reads ``KEIYAKU_TEST_DB``) and this
checkout on the import path. Rows the test has not committed stay invisible to it.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def on_test_database(**environment: str) -> dict[str, str]:
    """This process's environment, pointed at the running test's database; ``environment``
    adds or overrides variables (KEIYAKU_* settings for the child)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "KEIYAKU_TEST_DB": str(connection.settings_dict["NAME"]),
        "PYTHONPATH": str(ROOT),
        **environment,
    }
