"""Every PDF validation runs in a child process under a time and a memory budget.

Issue 10, finding 7: pyHanko's validation of a form whose XObjects list each other was still
running after 30 minutes, and the public verification page runs the same code, so one upload
could hold a web worker for ever. :func:`run` calls a function in a child process whose address
space is capped (``RLIMIT_AS``) and kills it at the deadline; the caller gets the result or
:class:`BudgetExceeded`, never a hung worker.

Children come from a ``forkserver`` started on first use with the validation modules already
imported: a fork of a small single-threaded process (never of the threaded web or worker
process, whose locks a fork could copy held), so a call costs milliseconds, not an interpreter
start. The child knows nothing of Django: callers pass what it needs (PDF bytes, trust roots,
revocation data) and get a picklable result back. The budget comes from the settings
``KEIYAKU_VALIDATION_SECONDS`` and ``KEIYAKU_VALIDATION_MEMORY_MB`` (docs/operations.md).

Large bytes (a PDF) cross as they are (issue 12): an argument or a result of at least RAW_BYTES,
alone or inside a tuple, is written to the pipe from the caller's own object and read into one
new object, instead of being pickled (a second copy on the way in, two on the way out).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

__all__ = ["BudgetExceeded", "Limits", "configured", "last_peak_bytes", "peak_forget", "run"]

_T = TypeVar("_T")

DEFAULT_SECONDS = 120.0
DEFAULT_MEMORY_MB = 2048
RAW_BYTES = 64 * 1024
"""Bytes values at least this long cross to and from a child unpickled (see the module text)."""
# Imported once by the fork server, so that no child pays for them.
_PRELOAD = [
    "__main__",  # imported once here, so that no child imports it again
    "keiyaku.signing.validation",
    "keiyaku.signing.engine",
    "keiyaku.signing.certificates",
    "keiyaku.signing.ingest_proof",
    "keiyaku.signing.budget_warmup",
]


@dataclass(frozen=True)
class Limits:
    """One validation's budget."""

    seconds: float
    """Wall-clock seconds from the child's start to its answer."""
    memory_mb: int
    """Address space of the child in MiB (``RLIMIT_AS``; includes the imported libraries,
    about 250 MiB)."""
    settings_prefix: str = "KEIYAKU_VALIDATION"
    """The settings the budget comes from (``…_SECONDS``, ``…_MEMORY_MB``): named in errors."""


class BudgetExceeded(Exception):
    """The child ran out of time or memory and was stopped; nothing was concluded."""

    def __init__(self, what: Literal["time", "memory"], limits: Limits) -> None:
        self.what = what
        self.limits = limits
        prefix = limits.settings_prefix
        budget = (
            f"{limits.seconds:g} s ({prefix}_SECONDS)"
            if what == "time"
            else f"{limits.memory_mb} MiB ({prefix}_MEMORY_MB)"
        )
        super().__init__(f"{prefix[8:].lower()} exceeded its {what} budget of {budget}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised inside a child too (a nested budget): it must cross the pipe whole.
        return (BudgetExceeded, (self.what, self.limits))


@dataclass(frozen=True)
class _Raw:
    """Stands, in a pickled message, for the ``index``-th large bytes value sent after it."""

    index: int


def _lift(value: Any, raws: list[bytes]) -> Any:
    """``value`` with each large bytes value in it (itself, or an item of a tuple) replaced by
    a `_Raw` and appended to ``raws``."""
    if isinstance(value, bytes) and len(value) >= RAW_BYTES:
        raws.append(value)
        return _Raw(len(raws) - 1)
    if type(value) is tuple:
        return tuple(_lift(item, raws) for item in value)
    return value


def _lower(value: Any, raws: list[bytes]) -> Any:
    """`_lift` undone."""
    if isinstance(value, _Raw):
        return raws[value.index]
    if type(value) is tuple:
        return tuple(_lower(item, raws) for item in value)
    return value


@dataclass(frozen=True)
class _ExceptionState:
    """An exception that pickle cannot rebuild, carried as its class, ``args`` and attributes.

    Pickle rebuilds an exception as ``cls(*args)``: a class whose constructor wants more than
    its message (pyHanko's ``PathValidationError``, for one) comes back as a TypeError raised
    while the parent reads the answer, and the real refusal is lost. Rebuilt without calling
    the constructor, it is raised in the parent as itself, attributes included.
    """

    cls: type[BaseException]
    args: tuple[Any, ...]
    state: dict[str, Any]

    def rebuild(self) -> BaseException:
        exc = self.cls.__new__(self.cls, *self.args)
        exc.args = self.args
        exc.__dict__.update(self.state)
        return exc


def _portable(exc: BaseException) -> BaseException | _ExceptionState:
    """``exc`` as the child sends it: itself when pickle round-trips it, else its state
    (`_ExceptionState`), else a RuntimeError naming it (an attribute that cannot be pickled)."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
        return exc
    except Exception:  # noqa: BLE001, S110 - any failure: try the state instead
        pass
    carried = _ExceptionState(type(exc), tuple(exc.args), dict(vars(exc)))
    try:
        pickle.loads(pickle.dumps(carried)).rebuild()  # noqa: S301 - as above
        return carried
    except Exception:  # noqa: BLE001 - an attribute that does not pickle
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def configured() -> Limits:
    """The budget from Django's settings when they are configured, else the defaults."""
    try:
        from django.conf import settings

        return Limits(
            seconds=float(getattr(settings, "KEIYAKU_VALIDATION_SECONDS", DEFAULT_SECONDS)),
            memory_mb=int(getattr(settings, "KEIYAKU_VALIDATION_MEMORY_MB", DEFAULT_MEMORY_MB)),
        )
    except Exception:  # noqa: BLE001 - no Django (a bare engine user): the defaults
        return Limits(seconds=DEFAULT_SECONDS, memory_mb=DEFAULT_MEMORY_MB)


_context_lock = threading.Lock()
_context: Any = None
# Set in a child, which must not ask for a budget of its own (see `run`).
_in_child = False
_last = threading.local()


def last_peak_bytes() -> int | None:
    """The most the resident memory of one of this thread's children rose above where it
    started (bytes, the kernel's high-water mark) since `peak_forget`, or None if none said
    (killed, or not Linux). For benchmarks and logs."""
    return getattr(_last, "peak", None)


def peak_forget() -> None:
    """Start `last_peak_bytes` afresh for this thread."""
    _last.peak = None


def _peak_reset() -> int:
    """Reset this process's high-water mark (Linux ``clear_refs`` 5); resident bytes now."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status_kb("VmRSS") * 1024
    except OSError:
        return -1


def _peak_rise(start: int) -> int | None:
    if start < 0:
        return None
    try:
        return max(0, _status_kb("VmHWM") * 1024 - start)
    except OSError:
        return None


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"{key} not in /proc/self/status")


def _forkserver() -> Any:
    global _context  # noqa: PLW0603 - one fork server per process, made on first use
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _context = context
        return _context


def run(func: Callable[..., _T], *args: Any, limits: Limits | None = None, **kwargs: Any) -> _T:
    """``func(*args, **kwargs)`` in a child process under ``limits`` (default :func:`configured`).

    ``func`` must be a module-level function; its arguments and result are pickled (bytes in
    and out are cheap). An exception ``func`` raises is raised here as itself, with its
    attributes, even when its constructor wants more than its message (`_portable`); as a
    ``RuntimeError`` naming it only when an attribute cannot be pickled. Raises :class:`BudgetExceeded` when the deadline passes (the child is
    killed) or the child runs out of memory (``MemoryError`` in the child, or it died without an
    answer). Rule: issue 10, finding 7.

    Not from inside a child: a child cannot have children of its own (RuntimeError). A timer in
    the child instead would not stop code that waits on a thread (pyHanko's validation under
    asyncio), so callers budget each step separately.
    """
    limits = limits or configured()
    if _in_child:
        raise RuntimeError("budget.run cannot be called inside a budgeted child")
    context = _forkserver()
    receive, send = context.Pipe(duplex=False)
    raw_in, raw_out = context.Pipe(duplex=False)
    raws: list[bytes] = []
    call = (_lift(args, raws), {name: _lift(value, raws) for name, value in kwargs.items()})
    child = context.Process(
        target=_child,
        args=(send, raw_in, len(raws), limits.memory_mb, func, *call),
        name="keiyaku-validation",
        daemon=True,
    )
    child.start()  # the first call also starts the fork server: not counted
    deadline = time.monotonic() + limits.seconds
    send.close()
    raw_in.close()
    try:
        try:
            for raw in raws:
                raw_out.send_bytes(raw)
        except OSError:  # the child died before it read its arguments
            raise BudgetExceeded("memory", limits) from None
        finally:
            raw_out.close()
        if not receive.poll(max(0.0, deadline - time.monotonic())):
            raise BudgetExceeded("memory" if not child.is_alive() else "time", limits)
        try:
            outcome, value, peak, count = receive.recv()
            if peak is not None:
                _last.peak = max(peak, getattr(_last, "peak", None) or 0)
            value = _lower(value, [receive.recv_bytes() for _ in range(count)])
        except EOFError:  # the child died without a word: the kernel or the allocator gave up
            raise BudgetExceeded("memory", limits) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)
        child.close()
    if outcome == "ok":
        return value  # type: ignore[no-any-return]
    if outcome == "memory":
        raise BudgetExceeded("memory", limits)
    if isinstance(value, _ExceptionState):
        raise value.rebuild()
    raise value


def _child(
    send: Any,
    raw_in: Any,
    raw_count: int,
    memory_mb: int,
    func: Callable[..., Any],
    args: tuple,
    kwargs: dict[str, Any],
) -> None:
    global _in_child  # noqa: PLW0603 - this process is a child from here on
    _in_child = True
    # The parent kills us at the deadline; should it die first, do not linger.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start = _peak_reset()
    raws: list[bytes] = []
    try:
        received = [raw_in.recv_bytes() for _ in range(raw_count)]
        raw_in.close()
        args = _lower(args, received)
        kwargs = {name: _lower(value, received) for name, value in kwargs.items()}
        del received
        message: tuple[str, Any] = ("ok", _lift(func(*args, **kwargs), raws))
    except MemoryError:
        message = ("memory", None)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent to raise
        message = ("error", _portable(exc))
    peak = _peak_rise(start)
    try:
        send.send((*message, peak, len(raws)))
        for raw in raws:
            send.send_bytes(raw)
    except MemoryError:
        send.send(("memory", None, peak, 0))
    except Exception as exc:  # noqa: BLE001 - an exception that does not pickle
        send.send(("error", RuntimeError(f"{type(message[1]).__name__}: {exc}"), peak, 0))
    send.close()
    os._exit(0)
