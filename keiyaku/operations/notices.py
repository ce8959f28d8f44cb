"""Which maintenance notices every page shows now (issue 14): those not withdrawn, from
`SHOW_DAYS_BEFORE` days before their start until their end.

Every staff and counterparty page asks (the banner in web/base.html), so the rows are read at
most once per `REFRESH_SECONDS` per process and the window is applied to them at each call:
a notice appears and disappears on the minute of its window, a new or withdrawn one reaches
another process within `REFRESH_SECONDS` (this process at once: the services call
`notices_forget`), and a page costs no query for it (tests/web/test_staff_page_cost.py).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.utils import timezone

from keiyaku.operations.models import MaintenanceNotice

SHOW_DAYS_BEFORE = 7
"""Days before its start that a notice is shown (issue 14: "from a week before")."""
REFRESH_SECONDS = 60.0

_lock = threading.Lock()
_read: tuple[float, tuple[MaintenanceNotice, ...]] | None = None


def notices_forget() -> None:
    """Read the notices again at the next call (after a notice is posted or withdrawn)."""
    global _read
    with _lock:
        _read = None


def notices_prime(notices: tuple[MaintenanceNotice, ...] = ()) -> None:
    """Take `notices` as this process's rows until the next refresh, without reading them
    (a test starts with none: its pages then cost no query for them)."""
    global _read
    with _lock:
        _read = (time.monotonic(), tuple(notices))


def _not_ended() -> tuple[MaintenanceNotice, ...]:
    global _read
    with _lock:
        if _read is None or time.monotonic() - _read[0] > REFRESH_SECONDS:
            rows = MaintenanceNotice.objects.filter(
                withdrawn_at__isnull=True, ends_at__gt=timezone.now()
            ).only("starts_at", "ends_at", "text")
            _read = (time.monotonic(), tuple(rows))
        return _read[1]


def notices_shown(*, now: datetime | None = None) -> list[MaintenanceNotice]:
    """The notices shown at `now` (default: the current time), earliest start first: not
    withdrawn, ``starts_at - SHOW_DAYS_BEFORE days <= now < ends_at``. Nothing depends on who
    asks: every staff member and counterparty sees the same notices."""
    now = now or timezone.now()
    before = timedelta(days=SHOW_DAYS_BEFORE)
    return [n for n in _not_ended() if n.starts_at - before <= now < n.ends_at]
