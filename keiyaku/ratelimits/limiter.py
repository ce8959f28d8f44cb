"""The one rate limiter: so many attempts per key in a window, counted in the database.

Every web process sees the same counters (rows of `RateCounter`), however keiyaku runs: one
`keiyaku serve`, several WSGI workers, several machines on one database. A key's window starts at
its first attempt; an attempt past the limit is refused, and not counted, until the window ends.
Each step is one conditional UPDATE, so two processes racing for the last attempt cannot both
get it, and no transaction waits for a lock while holding another.

Two users:
- `rate_limited(scope, setting)`: a view decorator limiting POSTs per client address (access
  codes, verification uploads), answering 429 with web/rate_limited.html;
- `login_rate_exceeded(ip=…, login_id=…)`: the login, second-step and password-reset posts, per
  client address and per login ID (KEIYAKU_LOGIN_RATE_*), on the sign-in clock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from keiyaku.accounts.network import client_ip
from keiyaku.login import clock
from keiyaku.ratelimits.models import RateCounter
from keiyaku.text_input import one_line


@dataclass(frozen=True)
class Limit:
    key: str
    """What is counted: a scope and a client address or login ID (`login-id:hanako`)."""
    limit: int
    """Attempts allowed in one window."""
    window: int
    """Seconds from the key's first attempt."""


def rate_allow(*limits: Limit, now: datetime | None = None) -> bool:
    """Count one attempt against every limit, or against none: False when any is used up."""
    now = now or timezone.now()
    taken: list[Limit] = []
    for limit in limits:
        if not _take(limit, now):
            for done in taken:
                _give_back(done, now)
            return False
        taken.append(limit)
    return True


def _take(limit: Limit, now: datetime) -> bool:
    if limit.limit < 1:
        return False
    counter = RateCounter.objects.filter(key=limit.key)
    expires_at = now + timedelta(seconds=limit.window)
    # Three tries: each step may lose a race with another process, which then won the count.
    for _try in range(3):
        if counter.filter(expires_at__gt=now, count__lt=limit.limit).update(count=F("count") + 1):
            return True
        if counter.filter(expires_at__lte=now).update(count=1, expires_at=expires_at):
            return True  # the window had ended: a new one starts with this attempt
        current = counter.values_list("count", "expires_at").first()
        if current is None:
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=limit.key, count=1, expires_at=expires_at)
            except IntegrityError:
                continue  # another process counted this key's first attempt meanwhile
            # A new key is when old ones are swept, so the table holds only live windows.
            RateCounter.objects.filter(expires_at__lt=now).delete()
            return True
        count, ends = current
        if ends > now and count >= limit.limit:
            return False
    return False


def _give_back(limit: Limit, now: datetime) -> None:
    RateCounter.objects.filter(key=limit.key, expires_at__gt=now, count__gt=0).update(
        count=F("count") - 1
    )


def rate_limited(scope: str, setting: str) -> Callable:
    """Limit POSTs to a view per client address; `setting` names a (limit, window) pair."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                limit, window = getattr(settings, setting)
                if not rate_allow(Limit(f"{scope}:{client_ip(request)}", limit, window)):
                    response = render(
                        request,
                        "web/rate_limited.html",
                        {"minutes": max(1, window // 60)},
                        status=429,
                    )
                    response["Retry-After"] = str(window)
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def login_rate_exceeded(*, ip: str | None, login_id: str = "") -> bool:
    """Count this sign-in attempt; True (nothing counted) when the address or the login ID is
    over its limit in the window."""
    window = settings.KEIYAKU_LOGIN_RATE_WINDOW_SECONDS
    limits = []
    if ip:
        limits.append(Limit(f"login-ip:{ip}", settings.KEIYAKU_LOGIN_RATE_PER_IP, window))
    # As posted, before any form checked it: a NUL would stop PostgreSQL with a server error.
    login_id = one_line(login_id)[:150]
    if login_id:
        limits.append(
            Limit(f"login-id:{login_id}", settings.KEIYAKU_LOGIN_RATE_PER_LOGIN_ID, window)
        )
    return not rate_allow(*limits, now=clock.now())
