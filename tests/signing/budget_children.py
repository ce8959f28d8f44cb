"""Functions the budget tests run in a child process.

Kept apart from the test module, with nothing but the standard library imported, so that a
child unpickling one of them starts at once: a child that first had to import the test
module's dependencies could use up a short deadline before it even started (a loaded CI
machine), and the test would then measure the import rather than the kill.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def sleep_then_write_pid(path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(60)


def allocate(mb: int) -> int:
    return len(bytearray(mb * 1024 * 1024))


def fail() -> None:
    raise ValueError("from the child")


def reversed_with_length(data: bytes, *, tag: bytes) -> tuple[bytes, int, bytes]:
    """A large result beside small ones: ``data`` reversed, its length, ``tag``."""
    return data[::-1], len(data), tag


class NeedsADetail(Exception):
    """An exception whose constructor wants more than its message, as pyHanko's
    ``PathValidationError(msg, *, ...)`` or ``SignatureValidationError`` subclasses do: pickle
    rebuilds an exception as ``cls(*args)``, which such a class refuses."""

    def __init__(self, message: str, detail: dict[str, int], *, code: str) -> None:
        super().__init__(message)
        self.detail = detail
        self.code = code


def fail_with_a_detail() -> None:
    raise NeedsADetail("from the child", {"depth": 3}, code="E1")
