"""The configured time-stamp authorities, and what they did, for every keiyaku process.

Settings (docs/operations.md, docs/trust.md): ``KEIYAKU_TSA_URLS`` in order of preference;
for the n-th (from 1) ``KEIYAKU_TSA_<n>_USERNAME`` / ``_PASSWORD`` (HTTP Basic),
``_CLIENT_CERT`` / ``_CLIENT_KEY`` (a TLS client certificate) and ``_CA_FILE`` (CAs for its
https server certificate); ``KEIYAKU_TSA_TIMEOUT`` (s). Each request's attempts are recorded
in :class:`~keiyaku.signing.models.TsaStatus` rows, which /readyz and the operator page show
and from which a job waiting for a TSA takes its back-off (:func:`tsa_retry_delay`).
Rule: issue 13 ("TSAs").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from keiyaku.outbound_http import TlsOptions
from keiyaku.pki import tsa_access
from keiyaku.signing.models import TsaStatus
from keiyaku.signing.timestamping import TsaAttempt, TsaEndpoint

__all__ = [
    "RETRY_BASE_SECONDS",
    "RETRY_MAX_SECONDS",
    "TsaState",
    "tsa_attempts_record",
    "tsa_endpoints",
    "tsa_outage_since",
    "tsa_retry_delay",
    "tsa_states",
]

RETRY_BASE_SECONDS = 30.0
"""The first wait of a job that found no TSA (s)."""
RETRY_MAX_SECONDS = 600.0
"""The longest wait between two tries while every TSA fails (s): a TSA back after an outage
of any length is used within ten minutes."""


def tsa_endpoints() -> list[TsaEndpoint]:
    """``KEIYAKU_TSA_URLS`` in order, each with its credentials and TLS options; keiyaku's own
    endpoint gets its client token (``keiyaku.pki.tsa_access``), no other TSA sees it."""
    credentials = settings.KEIYAKU_TSA_CREDENTIALS
    endpoints = []
    for position, url in enumerate(settings.KEIYAKU_TSA_URLS, start=1):
        given = credentials.get(position, {})
        tls = TlsOptions(
            ca_file=given.get("ca_file", ""),
            client_cert=given.get("client_cert", ""),
            client_key=given.get("client_key", ""),
        )
        endpoints.append(
            TsaEndpoint(
                url,
                username=given.get("username", ""),
                password=given.get("password", ""),
                tls=tls if tls != TlsOptions() else None,
                headers=tsa_access.headers_for(url),
            )
        )
    return endpoints


def tsa_attempts_record(attempts: Sequence[TsaAttempt]) -> None:
    """Count each attempt in its TSA's row (created on first use): successes and failures,
    the last of each with its reason, and since when the TSA has been failing.

    Conditional updates with ``F()``: processes recording at once never lose a count.
    """
    for attempt in attempts:
        if attempt.ok:
            changes = {
                "successes": F("successes") + 1,
                "last_success_at": attempt.at,
                "last_signer": attempt.signer[:300],
                "failing_since": None,
            }
        else:
            changes = {
                "failures": F("failures") + 1,
                "last_failure_at": attempt.at,
                "last_failure_reason": attempt.reason[:32],
                "last_failure_detail": attempt.detail[:500],
                "failing_since": Coalesce(
                    F("failing_since"), Value(attempt.at), output_field=DateTimeField()
                ),
            }
        rows = TsaStatus.objects.filter(url=attempt.url[:500])
        if rows.update(**changes):
            continue
        try:
            with transaction.atomic():
                TsaStatus.objects.create(url=attempt.url[:500])
        except IntegrityError:
            pass  # another process created it meanwhile
        rows.update(**changes)


@dataclass(frozen=True)
class TsaState:
    """One configured TSA as the health check and the operator page show it."""

    position: int
    """Its place in ``KEIYAKU_TSA_URLS``, from 1."""
    url: str
    """The URL without user information (operator page only; /readyz names no host)."""
    has_credentials: bool
    last_success_at: datetime | None
    last_signer: str
    last_failure_at: datetime | None
    last_failure_reason: str
    last_failure_detail: str
    failing_since: datetime | None
    successes: int
    failures: int

    @property
    def failing(self) -> bool:
        """Its last request failed."""
        return self.failing_since is not None


def tsa_states() -> list[TsaState]:
    """Every configured TSA, in order, with what it last did (nothing yet: empty fields)."""
    endpoints = tsa_endpoints()
    rows = {row.url: row for row in TsaStatus.objects.filter(url__in=[e.label for e in endpoints])}
    states = []
    for position, endpoint in enumerate(endpoints, start=1):
        row = rows.get(endpoint.label) or TsaStatus(url=endpoint.label)
        states.append(
            TsaState(
                position=position,
                url=endpoint.label,
                has_credentials=bool(endpoint.username or endpoint.tls),
                last_success_at=row.last_success_at,
                last_signer=row.last_signer,
                last_failure_at=row.last_failure_at,
                last_failure_reason=row.last_failure_reason,
                last_failure_detail=row.last_failure_detail,
                failing_since=row.failing_since,
                successes=row.successes,
                failures=row.failures,
            )
        )
    return states


def tsa_outage_since(states: Sequence[TsaState] | None = None) -> datetime | None:
    """When the last working TSA began to fail, if every configured TSA's last request
    failed; None while one works (or has not been asked yet)."""
    states = tsa_states() if states is None else states
    if not states or any(state.failing_since is None for state in states):
        return None
    return max(state.failing_since for state in states if state.failing_since is not None)


def tsa_retry_delay() -> float:
    """Seconds a job that found no TSA waits before trying again: as long as the outage has
    lasted, at least RETRY_BASE_SECONDS and at most RETRY_MAX_SECONDS, so a short outage is
    retried quickly and a long one costs few requests (a delay that doubles with each try
    would, per job, count tries rather than time: many waiting jobs would reach the cap at
    once)."""
    since = tsa_outage_since()
    lasted = (timezone.now() - since) if since is not None else timedelta(0)
    return min(RETRY_MAX_SECONDS, max(RETRY_BASE_SECONDS, lasted.total_seconds()))
