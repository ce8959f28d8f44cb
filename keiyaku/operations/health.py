"""Liveness and readiness for load balancers and orchestrators (/healthz, /readyz).

`/healthz` says the process answers; it touches nothing else, so a database outage does not
make an orchestrator kill every web process. `/readyz` asks each component the way the rest of
keiyaku reaches it, whatever back end is configured: the database through Django's connection,
the object store through `keiyaku.storage.checks.object_storage_ping`, the queue through the Huey instance. Each check
is "ok", "warn" or "fail"; any "fail" answers 503 (take this process out of the pool).

A time-stamp authority that cannot be reached, or a certificate that ends within
``KEIYAKU_HEALTH_CERT_WARN_DAYS``, is a warning, not a failure: every web process shares them,
and taking all of them out of the pool would stop people from even reading their contracts.
Answers name no host, path, key or setting value: what failed and how long it took. The
reason is written to the log (with the request id).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)

Status = Literal["ok", "warn", "fail"]
_RANK: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class CheckResult:
    status: Status
    """"ok", "warn" (works, needs attention) or "fail" (this process cannot serve)."""
    detail: str = ""
    """A fixed phrase or an exception's class name: never a host, a path or a secret."""
    values: dict[str, Any] = field(default_factory=dict)
    """Numbers worth graphing (queue depth, days left)."""


def check_database() -> CheckResult:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return CheckResult("ok")


def check_storage() -> CheckResult:
    """The object storage as `keiyaku.storage.checks.object_storage_ping` sees it: S3's
    HeadBucket (``exists()`` of a key cannot tell a missing bucket from a missing key), or a
    local folder that exists and is writable."""
    from keiyaku.storage.checks import object_storage_ping

    try:
        object_storage_ping()
    except OSError:  # a local folder (S3's failures are botocore's, named by their class)
        return CheckResult("fail", "folder not writable")
    return CheckResult("ok")


def check_queue() -> CheckResult:
    from huey.contrib.djhuey import HUEY

    return CheckResult("ok", values={"pending": HUEY.pending_count()})


def check_tsa() -> CheckResult:
    """Whether a TCP connection to each time-stamp authority opens within the timeout, and
    what each last did for a signature (``keiyaku.signing.tsas``). No time-stamp is
    requested: a paid TSA would bill every probe.

    Each TSA is named by its position in ``KEIYAKU_TSA_URLS`` (from 1), never by its host:
    ``{"position", "reachable", "last_success", "last_failure", "last_failure_reason"}``
    (times ISO 8601, the reason a fixed code of ``timestamping.REASONS``). Warns when none is
    reachable, when every TSA's last request failed (signatures wait: issue 13), or when one
    fails while another stands in.
    """
    from keiyaku.signing.tsas import tsa_states

    reachable = 0
    urls = settings.KEIYAKU_TSA_URLS
    opened: list[bool] = []
    for url in urls:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection(
                (parts.hostname or "", port), timeout=settings.KEIYAKU_HEALTH_TSA_TIMEOUT
            ):
                reachable += 1
                opened.append(True)
        except OSError as error:
            log.warning("readiness: time-stamp authority %s unreachable: %s", url, error)
            opened.append(False)
    states = tsa_states()
    tsas = [
        {
            "position": state.position,
            "reachable": is_open,
            "last_success": state.last_success_at.isoformat() if state.last_success_at else None,
            "last_failure": state.last_failure_at.isoformat() if state.last_failure_at else None,
            "last_failure_reason": state.last_failure_reason if state.failing else "",
        }
        for state, is_open in zip(states, opened, strict=False)
    ]
    values = {"reachable": reachable, "configured": len(urls), "tsas": tsas}
    if states and all(state.failing for state in states):
        return CheckResult("warn", "every time-stamp authority is failing", values)
    if not reachable:
        return CheckResult("warn", "no time-stamp authority reachable", values)
    if any(state.failing for state in states) or reachable < len(urls):
        return CheckResult("warn", "a time-stamp authority is failing", values)
    return CheckResult("ok", values=values)


def check_signing_key() -> CheckResult:
    """The signing key signs a challenge that its certificate verifies (a key in an HSM: the
    token answers, and keeps the key); raises otherwise (keiyaku.signing.checks)."""
    from keiyaku.signing.checks import probe_signing_key

    probe_signing_key()
    return CheckResult("ok")


def _days_left(cert: Any) -> float:
    end: datetime = cert["tbs_certificate"]["validity"]["not_after"].native
    return (end - datetime.now(UTC)).total_seconds() / 86400


def check_certificates() -> CheckResult:
    """Days until the signing certificate (and keiyaku's own TSA and root, when used) end."""
    from keiyaku.pki.service import get_authority
    from keiyaku.signing.keys import get_service_signer, signer_backend

    certs = {"signer": get_service_signer().cert}
    if signer_backend() == "local":
        authority = get_authority()
        certs |= {"tsa": authority.tsa_cert, "root": authority.root_cert}
    days = {name: int(_days_left(cert)) for name, cert in certs.items()}
    soonest = min(days.values())
    if soonest < 0:
        return CheckResult("fail", "a certificate has expired", {"days_left": days})
    if soonest < settings.KEIYAKU_HEALTH_CERT_WARN_DAYS:
        return CheckResult("warn", "a certificate ends soon", {"days_left": days})
    return CheckResult("ok", values={"days_left": days})


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "storage": check_storage,
    "queue": check_queue,
    "tsa": check_tsa,
    "signing_key": check_signing_key,
    "certificates": check_certificates,
}


def readiness(checks: dict[str, Callable[[], CheckResult]] | None = None) -> dict[str, Any]:
    """Run every check; the JSON body of /readyz.

    Returns:
        ``{"status": worst status, "checks": {name: {"status", "ms", "detail"?, ...values}}}``.
        A check that raises is "fail" with the exception's class name as detail.
    """
    results: dict[str, dict[str, Any]] = {}
    for name, check in (checks or CHECKS).items():
        started = time.monotonic()
        try:
            result = check()
        except Exception as error:  # noqa: BLE001 - any failure of a component is its status
            log.warning("readiness: %s failed", name, exc_info=True)
            result = CheckResult("fail", type(error).__name__)
        entry: dict[str, Any] = {
            "status": result.status,
            "ms": round((time.monotonic() - started) * 1000, 1),
            **result.values,
        }
        if result.detail:
            entry["detail"] = result.detail
        results[name] = entry
    worst = max((r["status"] for r in results.values()), key=_RANK.__getitem__, default="ok")
    return {"status": worst, "checks": results}
