"""Running pyHanko's coroutines from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run``, handing the (large) result back outside the task.

    In the main thread, Python 3.11's ``asyncio.run`` formats the main task's repr -- result
    included -- when it restores the SIGINT handler: ~25 ms per MB when the result is a PDF.
    """
    result: list[_T] = []

    async def main() -> None:
        result.append(await coro)

    asyncio.run(main())
    return result[0]
