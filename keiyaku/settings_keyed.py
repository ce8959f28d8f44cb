"""Process-wide objects built from settings, rebuilt when those settings change.

keiyaku loads its signing key, its authority and similar objects once per process: parsing a
key or logging in to an HSM is the expensive part of a signature. A plain ``functools.cache``
keeps the first object for the life of the process, whatever the settings say afterwards: a
process whose settings change (a test's ``settings`` fixture, a management command that
switches the PKI folder) went on signing with the key of the settings it started with, and
showed it as "the certificate in use". :func:`keyed_on_settings` keeps one object per value of
the settings it is built from, so what it returns always matches the current settings.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings

__all__ = ["keyed_on_settings"]

T = TypeVar("T")


def _frozen(value: object) -> Hashable:
    """``value`` as something comparable and hashable (lists and dicts of settings included)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Hashable):
        return value
    return repr(value)


class _SettingsKeyed(Generic[T]):
    """One object, rebuilt when the named settings (or the object it is built on) change."""

    def __init__(
        self, build: Callable[[], T], names: tuple[str, ...], on: Callable[[], object] | None
    ) -> None:
        self._build = build
        self._names = names
        self._on = on
        self._lock = threading.Lock()
        # (settings values, the object built on, what was built); the object built on is kept
        # so that its identity cannot be reused by a newer one while this entry lives.
        self._held: tuple[tuple[Hashable, ...], object, T] | None = None
        functools.update_wrapper(self, build)

    def __call__(self) -> T:
        values = tuple(_frozen(getattr(settings, name, None)) for name in self._names)
        base = self._on() if self._on is not None else None
        held = self._held
        if held is not None and held[0] == values and held[1] is base:
            return held[2]
        with self._lock:
            held = self._held
            if held is not None and held[0] == values and held[1] is base:
                return held[2]
            built = self._build()  # an exception leaves nothing cached: the next call tries again
            self._held = (values, base, built)
            return built

    def cache_clear(self) -> None:
        """Forget the object: the next call builds it again (a process restart, in tests)."""
        with self._lock:
            self._held = None


def keyed_on_settings(
    *names: str, on: Callable[[], object] | None = None
) -> Callable[[Callable[[], T]], _SettingsKeyed[T]]:
    """Decorate a no-argument builder: it runs once per process and per value of ``names``.

    Args:
        names: the Django settings the object is built from (read on every call: a few
            attribute reads, no I/O).
        on: another keyed object this one is built from (e.g. the authority a local signer
            takes its key from); the object is rebuilt when that one is.

    The decorated function keeps ``cache_clear()``. Building is serialised by a lock, so two
    threads asking at once build (or log in to an HSM) once. A build that raises caches nothing.
    """

    def decorate(build: Callable[[], T]) -> _SettingsKeyed[T]:
        return _SettingsKeyed(build, names, on)

    return decorate
