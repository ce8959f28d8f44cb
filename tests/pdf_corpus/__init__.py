"""A corpus of generated PDF kinds that every accepted upload path must handle (issue: every PDF).

Each module in this package generates inputs of one family (forms, active content, fonts,
resource exhaustion, structure, scans …) and registers each kind with `kind`. Nothing here is a
third party's file: every input is built in the test run. `all_kinds` imports every module of the
package and returns the registry, so a new module joins the corpus by existing.

A kind says what keiyaku must do with it:
- ``expect="complete"``: accepted, and a contract with boxes near each corner of page 1 completes
  with every outside validator green.
- ``expect="refuse"``: refused at upload with a Japanese message whose ``code`` is
  ``refusal_code`` (never a 500).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Expect = Literal["complete", "refuse"]


@dataclass(frozen=True)
class Kind:
    name: str
    """Short unique id, used as the pytest id (ASCII, snake_case)."""
    make: Callable[[], bytes]
    """Builds the input PDF (bytes), deterministically."""
    expect: Expect
    refusal_code: str | None
    """The RefusedUpload/ContractError code expected when ``expect == "refuse"``."""
    about: str
    """One line: what the kind is and which finding or bug report it stands for."""
    changes: tuple[str, ...] = ()
    """IngestChange values ingest must record for it (in any order); empty: none checked."""


KINDS: dict[str, Kind] = {}


def kind(
    name: str,
    *,
    about: str,
    expect: Expect = "complete",
    refusal_code: str | None = None,
    changes: tuple[str, ...] = (),
) -> Callable[[Callable[[], bytes]], Callable[[], bytes]]:
    """Register the decorated generator as corpus kind ``name``."""
    if (expect == "refuse") != (refusal_code is not None):
        raise ValueError(f"{name}: a refused kind names its refusal code, and only it")

    def register(make: Callable[[], bytes]) -> Callable[[], bytes]:
        if name in KINDS:
            raise ValueError(f"corpus kind {name!r} registered twice")
        KINDS[name] = Kind(
            name=name,
            make=make,
            expect=expect,
            refusal_code=refusal_code,
            about=about,
            changes=changes,
        )
        return make

    return register


def all_kinds() -> dict[str, Kind]:
    """Every registered kind, after importing every module of this package."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(KINDS.items()))
