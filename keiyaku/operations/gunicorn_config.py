"""gunicorn's settings under `keiyaku serve` (passed as ``-c python:keiyaku.operations.gunicorn_config``).

Workers, threads, timeout and address come on the command line from `keiyaku serve`; what is
fixed is here. Read by gunicorn's master, which does not load Django: environment only.
"""

from __future__ import annotations

import os
from typing import Any

from keiyaku.process_lifetime import PARENT_ENV, exit_with_parent

# Threads per worker: a slow upload or a page being drawn does not hold a whole process.
worker_class = "gthread"
# Each worker is replaced after this many requests (± jitter), bounding what PDF libraries
# keep in memory; the others serve meanwhile.
max_requests = 2000
max_requests_jitter = 200
graceful_timeout = 20
# Django writes one access line per request (keiyaku.operations.request_id), with the URL
# pattern instead of the path (signing links carry their token in it): none from gunicorn.
accesslog = None
errorlog = "-"
# No control socket in the user's home: several serves would share one.
control_socket_disable = True
# gunicorn's own lines in the format keiyaku's are in (KEIYAKU_LOG_FORMAT).
_format = os.environ.get("KEIYAKU_LOG_FORMAT", "text")
# The level keiyaku logs at (KEIYAKU_LOG_LEVEL; `keiyaku run` sets WARNING unless --verbose).
_level = os.environ.get("KEIYAKU_LOG_LEVEL", "INFO")
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _level, "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": ["console"], "propagate": False},
        # A logging set-up turns gunicorn's access log on; Django writes those lines.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
    "filters": {"request_id": {"()": "keiyaku.operations.request_id.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "keiyaku.operations.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": _format if _format in {"text", "json"} else "text",
            "stream": "ext://sys.stderr",
        },
        "error_console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
}


def on_starting(server: Any) -> None:
    """Started by `keiyaku serve`: end with it even if it is killed hard (its workers follow
    this master: gunicorn workers stop when their parent changes)."""
    parent = os.environ.pop(PARENT_ENV, "")
    if parent:
        exit_with_parent(int(parent))
