"""Record every Refusal made during a test, with the UI language active when it was made.

A plugin (see `pytest_plugins` in tests/conftest.py): the `refusals_seen` fixture is autouse, so
any test can read what it was refused and in which language (acceptance: with the UI in
English, every refusal a test triggers is shown in English).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SeenRefusal:
    kind: str
    """The class name: ContractError, SignInRefused …"""
    code: str
    message: str
    language: str | None
    """`translation.get_language()` when the refusal was made."""
    made_in: str
    """The module that made it, relative to the repository (keiyaku/…/x.py)."""


@pytest.fixture(autouse=True)
def refusals_seen(monkeypatch: pytest.MonkeyPatch) -> list[SeenRefusal]:
    from django.utils import translation

    from keiyaku.refusals import Refusal

    seen: list[SeenRefusal] = []
    original = Refusal.__init__

    def recording(self: Refusal, message: object, **kwargs: str | None) -> None:
        original(self, message, **kwargs)
        frame = sys._getframe(1)
        while frame.f_code.co_name == "__init__" and frame.f_back is not None:
            frame = frame.f_back  # a subclass's own __init__
        path = Path(frame.f_code.co_filename).resolve()
        seen.append(
            SeenRefusal(
                kind=type(self).__name__,
                code=self.code,
                message=self.message,
                language=translation.get_language(),
                made_in=str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
            )
        )

    monkeypatch.setattr(Refusal, "__init__", recording)
    return seen
