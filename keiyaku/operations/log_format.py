"""One JSON object per log line (KEIYAKU_LOG_FORMAT=json), for a log collector."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# LogRecord's own attributes: everything else on a record came in `extra=` and is logged too.
# `request` (Django's, on 4xx/5xx lines) is an object whose text shows the path: left out.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request",
}


class JsonFormatter(logging.Formatter):
    """Fields: time (UTC, ISO 8601), level, logger, message, request_id, process, the
    `extra=` fields of the call, and `exception` (the traceback text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def loggable_path(request: Any) -> str:
    """What a log line may say of a request's path: its URL pattern (``/s/<str:token>/``), or
    its first segment when none matched (``/s/…``). Signing, download, welcome and password
    links carry their secret in the path."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return f"/{match.route}"
    first = request.path.strip("/").split("/", 1)[0]
    return f"/{first}/…" if first else "/"


class HidePathsFilter(logging.Filter):
    """Django logs the path of every 4xx and 5xx answer ("Not Found: /s/…", the CSRF refusal,
    an exception's 500): put :func:`loggable_path` in its place."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if path and isinstance(record.args, tuple) and path in record.args:
            safe = loggable_path(request)
            record.args = tuple(safe if arg == path else arg for arg in record.args)
        return True
