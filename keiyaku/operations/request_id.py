"""A request id on every request, every log line written while it is handled, and its answer.

The id comes from the ``X-Request-ID`` header when a proxy in front already set one (so the
proxy's log and keiyaku's can be joined), otherwise it is made here. It is sent back in the
answer's ``X-Request-ID`` header and put in the audit entries the request writes
(``keiyaku.audit.services.RequestMeta``).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# What we accept from outside: short, printable, no spaces (it is written into log lines).
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("keiyaku_request_id", default="")
access_log = logging.getLogger("keiyaku.request")
# Probed every few seconds by each load balancer: no access line (failures are logged).
QUIET_PATHS = frozenset({"/healthz", "/readyz"})


def current_request_id() -> str:
    """The id of the request this thread is handling, or "" outside a request."""
    return _current.get()


def request_id_from(header: str | None) -> str:
    """The caller's id when it is acceptable, else a new one (32 hex digits)."""
    if header and _VALID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the id for the request, answers with it, and writes one access line per request.

    The access line names the URL pattern, never the path: signing and download links carry
    their secret token in the path.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _current.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            if request.path in QUIET_PATHS:
                return response
            match = getattr(request, "resolver_match", None)
            access_log.info(
                "%s %s %s",
                request.method,
                f"/{match.route}" if match is not None else "(unmatched)",
                response.status_code,
                extra={
                    "method": request.method,
                    "route": f"/{match.route}" if match is not None else "",
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` ("-" outside a request) for the log formats.

    Django logs a 4xx or 5xx answer after the middleware has returned, passing the request:
    its id is taken from there.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from_request = getattr(getattr(record, "request", None), "request_id", "")
        record.request_id = from_request or _current.get() or "-"
        return True
