"""A small rate limiter on Django's cache: so many attempts per client address per window.

Counters live in the default cache (per process by default, shared through Redis when
configured). It slows down guessing of access codes and floods of verification uploads; the
per-party lockout (R18) remains the hard limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from keiyaku.accounts.network import client_ip


def rate_hit(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt; False once more than `limit` attempts fell in the current window."""
    cache_key = f"keiyaku.rate.{key}"
    if cache.add(cache_key, 1, timeout=window):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window)
        return True
    return count <= limit


def rate_limited(scope: str, setting: str) -> Callable:
    """Limit POSTs to a view per client address; `setting` names a (limit, window) pair."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                limit, window = getattr(settings, setting)
                if not rate_hit(f"{scope}.{client_ip(request)}", limit=limit, window=window):
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
