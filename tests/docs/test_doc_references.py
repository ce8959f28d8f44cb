"""The maps in docs/ (legal.md, requirements-matrix.md) name tests and code that exist.

A map that names a test file nobody has any more tells an auditor that a rule is shown when it
is not: every `tests/…` and `keiyaku/…`-relative path the maps name in backquotes must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PATH_RE = re.compile(r"`((?:tests|keiyaku|bench|docs)/[A-Za-z0-9_./-]+?)(?:::[^`]*)?`")


@pytest.mark.parametrize("name", ["legal.md", "requirements-matrix.md"])
def test_every_path_a_map_names_exists(name):
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    named = set(PATH_RE.findall(text))
    assert named, "the map names no paths"
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert missing == []
