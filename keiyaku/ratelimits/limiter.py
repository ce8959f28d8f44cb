"""The one rate limiter: so many attempts per key in a window, counted where every process sees it.

Every web process sees the same counters, however keiyaku runs: one `keiyaku serve`, several
WSGI workers, several machines. With KEIYAKU_REDIS_URL the counters are Redis hashes, each step
one Lua script (atomic in Redis); without it they are rows of `RateCounter` in the database, each
step one conditional UPDATE. Either way two processes racing for the last attempt cannot both
get it, and no transaction waits for a lock while holding another. A key's window starts at its
first attempt; an attempt past the limit is refused, and not counted, until the window ends.
Windows are measured on keiyaku's clock (the `now` passed in), not Redis's, so both stores
behave alike; Redis forgets a key a minute after its window.

Two users:
- `rate_limited(scope, setting)`: a view decorator limiting POSTs per client address (access
  codes, verification uploads), answering 429 with web/rate_limited.html;
- `login_rate_exceeded(ip=…, login_id=…)`: the login, second-step and password-reset posts, per
  client address and per login ID (KEIYAKU_LOGIN_RATE_*), on the sign-in clock;
  `login_rate_succeeded` gives a successful sign-in step its attempt back, so only failures stay
  counted (issue 14: a clerk signing in a dozen times in five minutes met a 429).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
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


def rate_count(key: str, *, now: datetime | None = None) -> int:
    """Attempts counted for `key` in its current window (0 when none is open)."""
    now = now or timezone.now()
    if settings.KEIYAKU_REDIS_URL:
        found = _redis(settings.KEIYAKU_REDIS_URL).hmget(_redis_key(key), "count", "ends")
        count, ends = (int(v) if v is not None else 0 for v in found)
        return count if ends > _ms(now) else 0
    current = RateCounter.objects.filter(key=key, expires_at__gt=now).first()
    return current.count if current else 0


# --- Redis ------------------------------------------------------------------------------------

# KEYS[1] the counter; ARGV: limit, now (ms), window (ms). 1 when the attempt is counted.
_TAKE = """
local found = redis.call('HMGET', KEYS[1], 'count', 'ends')
local limit, now, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count, ends = tonumber(found[1]), tonumber(found[2])
if limit < 1 then return 0 end
if ends == nil or ends <= now then
  redis.call('HSET', KEYS[1], 'count', 1, 'ends', now + window)
  redis.call('PEXPIRE', KEYS[1], window + 60000)
  return 1
end
if count >= limit then return 0 end
redis.call('HINCRBY', KEYS[1], 'count', 1)
return 1
"""
# KEYS[1] the counter; ARGV: now (ms). Gives one attempt back within an open window.
_GIVE_BACK = """
local found = redis.call('HMGET', KEYS[1], 'count', 'ends')
local count, ends = tonumber(found[1]), tonumber(found[2])
if ends ~= nil and ends > tonumber(ARGV[1]) and count > 0 then
  redis.call('HINCRBY', KEYS[1], 'count', -1)
end
return 0
"""


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    """One client (a connection pool) per process and URL."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _redis_key(key: str) -> str:
    return f"keiyaku:rate:{key}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _take(limit: Limit, now: datetime) -> bool:
    if settings.KEIYAKU_REDIS_URL:
        client = _redis(settings.KEIYAKU_REDIS_URL)
        counted = client.eval(
            _TAKE, 1, _redis_key(limit.key), limit.limit, _ms(now), limit.window * 1000
        )
        return bool(counted)
    return _take_in_database(limit, now)


def _give_back(limit: Limit, now: datetime) -> None:
    if settings.KEIYAKU_REDIS_URL:
        _redis(settings.KEIYAKU_REDIS_URL).eval(_GIVE_BACK, 1, _redis_key(limit.key), _ms(now))
        return
    _give_back_in_database(limit, now)


# --- the database -----------------------------------------------------------------------------


def _take_in_database(limit: Limit, now: datetime) -> bool:
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


def _give_back_in_database(limit: Limit, now: datetime) -> None:
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


def _login_limits(ip: str | None, login_id: str) -> list[Limit]:
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
    return limits


def login_rate_exceeded(*, ip: str | None, login_id: str = "") -> bool:
    """Count this sign-in attempt; True (nothing counted) when the address or the login ID is
    over its limit in the window.

    `ip` is the client address (None when unknown), `login_id` the login ID or e-mail address as
    posted. Every attempt is counted before it is tried, so attempts racing each other cannot
    pass the limit together; a step that succeeds gives its attempt back with
    `login_rate_succeeded`, so only failures use up the limit."""
    return not rate_allow(*_login_limits(ip, login_id), now=clock.now())


def login_rate_succeeded(*, ip: str | None, login_id: str = "") -> None:
    """Give back the attempt `login_rate_exceeded` counted for a sign-in step that succeeded.

    The same `ip` and `login_id` as counted. Only failures count towards the login rate limit
    (issue 14: successful logins made a clerk meet a 429 after about eleven sign-ins in five
    minutes); a window that has meanwhile ended is left alone."""
    now = clock.now()
    for limit in _login_limits(ip, login_id):
        _give_back(limit, now)
