"""RFC 3161 time-stamp authorities, tried in order: credentials, a check of every token, failover.

A TSA is asked through keiyaku's outbound HTTP client (``keiyaku.outbound_http``: one deadline
for the whole call, a size cap, the checked address pinned), with its own credentials: HTTP
Basic, a TLS client certificate, or both. A token is used only when :func:`token_check` finds
nothing wrong with it; otherwise, as on a connection error, a timeout or an HTTP error, the
next TSA is asked. Every attempt is logged (URL and reason), counted in this process
(:func:`failure_counts`) and kept on the timestamper (:meth:`FailoverTimeStamper.drain`) for
the Django side to record (``keiyaku.signing.tsa_status``), which the health check and the
operator page read.

Knows nothing of Django and reads no setting: the caller passes the endpoints and the trust
roots, so a timestamper works inside a validation child (``keiyaku.signing.budget``).
Rule: issue 13 ("TSAs"), R26.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.timestamps.common_utils import set_tsp_headers
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from keiyaku.outbound_http import OutboundError, OutboundRefused, TlsOptions, fetch

__all__ = [
    "REASONS",
    "FailoverTimeStamper",
    "TimestampUnavailable",
    "TsaAttempt",
    "TsaEndpoint",
    "TsaFailure",
    "failure_counts",
    "run_reporting",
    "token_check",
]

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024
"""The largest TimeStampResp read (bytes); tokens with a three-certificate chain stay < 8 KB."""

REASONS = {
    "connection": "the TSA could not be reached (connection refused, DNS, TLS)",
    "timeout": "the TSA did not answer in time",
    "http_status": "the TSA answered with an HTTP error",
    "malformed": "the answer is not a time-stamp response",
    "rejected": "the TSA refused the request (RFC 3161 status)",
    "wrong_nonce": "the token carries another nonce than the one asked for",
    "wrong_imprint": "the token stamps another digest than the one asked for",
    "bad_signature": "the token's signature does not verify",
    "untrusted": "the token's signer does not chain to a trusted root",
}
"""Why an attempt failed: a fixed code (shown by /readyz and the operator page) → meaning."""


class TimestampUnavailable(TimestampRequestError):
    """No configured time-stamp authority produced a usable token; nothing was signed.

    ``attempts`` lists what each TSA did (set when known; crosses a process boundary whole).
    """

    def __init__(self, message: str, attempts: Sequence[TsaAttempt] = ()) -> None:
        super().__init__(message)
        self.attempts = list(attempts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.attempts))


class TsaFailure(Exception):
    """One TSA did not give a usable token; ``reason`` is a key of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class TsaEndpoint:
    """One time-stamp authority and how to reach it."""

    url: str
    """Its RFC 3161 HTTP(S) URL."""
    username: str = ""
    """HTTP Basic user name; no Authorization header when empty."""
    password: str = ""
    """HTTP Basic password."""
    tls: TlsOptions | None = None
    """CA file for its server certificate and the client certificate to present (https)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers sent to it alone (keiyaku's own endpoint's client token)."""

    @property
    def label(self) -> str:
        """The URL without user information, query or fragment: safe to log and to show."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    def request_headers(self) -> dict[str, str]:
        headers = set_tsp_headers(dict(self.headers))
        if self.username or self.password:
            pair = f"{self.username}:{self.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers


@dataclass(frozen=True)
class TsaAttempt:
    """What one TSA did for one request."""

    url: str
    """The endpoint's :attr:`TsaEndpoint.label`."""
    ok: bool
    at: dt.datetime
    """When the answer (or the failure) came, UTC."""
    seconds: float
    """How long the attempt took (s)."""
    reason: str = ""
    """A key of :data:`REASONS` when not ``ok``."""
    detail: str = ""
    """The failure in words (may name the host; for logs and the operator only)."""
    signer: str = ""
    """The token's signer (subject), when ``ok``."""


_failures: Counter[tuple[str, str]] = Counter()
_failures_lock = threading.Lock()


def failure_counts() -> dict[tuple[str, str], int]:
    """Failed attempts in this process, by (TSA URL label, reason)."""
    with _failures_lock:
        return dict(_failures)


async def token_check(
    token: cms.ContentInfo,
    *,
    message_digest: bytes,
    md_algorithm: str,
    nonce: int | None,
    trust_roots: Sequence[asn1_x509.Certificate] | None,
) -> str:
    """Raise :class:`TsaFailure` unless ``token`` is one keiyaku may put in a PDF; return its
    signer's subject (human-readable).

    The one place that judges a token: it carries the ``nonce`` asked for (RFC 3161 §2.4.2)
    and stamps ``message_digest`` under ``md_algorithm``; its CMS signature verifies; and its
    signer's certificate (carried in the token) chains to one of ``trust_roots`` (DER-parsed
    certificates: keiyaku's own root plus the configured ones, ``keys.get_trust_roots``), is
    valid now and is for time-stamping. ``trust_roots=None`` skips the chain (engine tests that
    bring no roots); keiyaku's processes always pass them. Revocation is not fetched here;
    finalising checks it with the validation data (hard-fail).
    """
    try:
        signed_data = token["content"]
        tst_info = signed_data["encap_content_info"]["content"].parsed
        received_nonce = tst_info["nonce"].native
        imprint = tst_info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TsaFailure("malformed", f"unreadable token: {exc!r}") from exc
    if nonce is not None and received_nonce != nonce:
        raise TsaFailure("wrong_nonce", f"asked for nonce {nonce:x}, got {received_nonce!r}")
    if algorithm != md_algorithm or hashed != message_digest:
        raise TsaFailure("wrong_imprint", f"the token stamps a different digest ({algorithm})")
    # Never pyHanko's default context (None): that one trusts the system store and fetches
    # revocation data over the network. No roots: the signature is checked, the chain is not.
    context = ValidationContext(
        trust_roots=list(trust_roots or []), allow_fetching=False, revocation_mode="soft-fail"
    )
    try:
        status = await validate_tst_signed_data(signed_data, context, lambda _alg: message_digest)
    except Exception as exc:  # noqa: BLE001 - any failure to validate means "not usable"
        raise TsaFailure("bad_signature", f"cannot validate: {exc!r}") from exc
    if not status.get("intact") or not status.get("valid"):
        raise TsaFailure("bad_signature", "the token's signature does not verify")
    signer = status.get("signing_cert")
    subject = signer.subject.human_friendly if signer is not None else "?"
    # pyHanko's SignatureStatus.trusted, on the raw status: a path to a root, no problem on it.
    trusted = status.get("trust_problem_indic") is None and status.get("validation_path")
    if trust_roots is not None and not trusted:
        raise TsaFailure("untrusted", f"signer {subject} does not chain to a trusted root")
    return str(subject)


class FailoverTimeStamper(TimeStamper):
    """Asks each TSA in turn; the first token that passes :func:`token_check` wins, and the TSA
    that gave it is asked first from then on by this object (made per job).

    Picklable (endpoints and roots travel as data), so it can be handed to a validation child.
    Raises :class:`TimestampUnavailable` (with every attempt) when no TSA gives a usable token.
    """

    def __init__(
        self,
        endpoints: Sequence[TsaEndpoint],
        *,
        timeout: float,
        trust_roots: Sequence[asn1_x509.Certificate] | None,
    ) -> None:
        if not endpoints:
            raise ValueError("at least one TSA is required")
        super().__init__()
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self._roots_der = None if trust_roots is None else [c.dump() for c in trust_roots]
        self.attempts: list[TsaAttempt] = []

    @property
    def url(self) -> str:
        """The first TSA (what pyHanko's own timestamper calls ``url``)."""
        return self.endpoints[0].label

    def drain(self) -> list[TsaAttempt]:
        """The attempts made since the last call, oldest first (and forget them)."""
        attempts, self.attempts = self.attempts, []
        return attempts

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        roots = (
            None
            if self._roots_der is None
            else [asn1_x509.Certificate.load(der) for der in self._roots_der]
        )
        made: list[TsaAttempt] = []
        for endpoint in self.endpoints:
            started = time.monotonic()
            try:
                token, signer = await self._ask(endpoint, message_digest, md_algorithm, roots)
            except TsaFailure as failure:
                attempt = TsaAttempt(
                    url=endpoint.label,
                    ok=False,
                    at=dt.datetime.now(dt.UTC),
                    seconds=time.monotonic() - started,
                    reason=failure.reason,
                    detail=failure.detail[:500],
                )
                logger.warning(
                    "time-stamp authority %s failed (%s): %s",
                    endpoint.label,
                    failure.reason,
                    failure.detail,
                )
                with _failures_lock:
                    _failures[(endpoint.label, failure.reason)] += 1
                made.append(attempt)
                self.attempts.append(attempt)
                continue
            if endpoint is not self.endpoints[0]:
                # Sticky for the rest of this timestamper's life (one job): the TSA whose
                # answer to the size estimate gave the chain that finalising gathered the
                # validation data of (keys.get_validation_inputs) is the one that stamps.
                self.endpoints.remove(endpoint)
                self.endpoints.insert(0, endpoint)
            attempt = TsaAttempt(
                url=endpoint.label,
                ok=True,
                at=dt.datetime.now(dt.UTC),
                seconds=time.monotonic() - started,
                signer=signer,
            )
            self.attempts.append(attempt)
            return token
        raise TimestampUnavailable(
            "no time-stamp authority gave a usable token: "
            + "; ".join(f"{a.url}: {a.reason} ({a.detail})" for a in made),
            made,
        )

    async def _ask(
        self,
        endpoint: TsaEndpoint,
        message_digest: bytes,
        md_algorithm: str,
        roots: Sequence[asn1_x509.Certificate] | None,
    ) -> tuple[cms.ContentInfo, str]:
        nonce, request = self.request_cms(message_digest, md_algorithm)
        host = urlsplit(endpoint.url).hostname or ""
        try:
            # The operator named this TSA: its host is allowed whatever its address (the
            # default, keiyaku's own endpoint, is often on loopback or the internal network).
            response = await asyncio.to_thread(
                fetch,
                endpoint.url,
                method="POST",
                headers=endpoint.request_headers(),
                body=request.dump(),
                timeout=self.timeout,
                max_bytes=MAX_RESPONSE_BYTES,
                allow=[host],
                tls=endpoint.tls,
            )
        except OutboundError as exc:
            reason = "timeout" if "timed out" in str(exc) else "connection"
            raise TsaFailure(reason, str(exc)) from exc
        except OutboundRefused as exc:
            raise TsaFailure("connection", str(exc.code)) from exc
        if response.status != 200:
            raise TsaFailure("http_status", f"HTTP {response.status}")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/timestamp-reply":
            raise TsaFailure("malformed", f"Content-Type {content_type or '(none)'}")
        try:
            answer = tsp.TimeStampResp.load(response.body)
            pki_answer = answer["status"]["status"].native  # RFC 3161 PKIStatus
            token = answer["time_stamp_token"]
            content_type_oid = token["content_type"].native
        except (ValueError, TypeError, KeyError) as exc:
            raise TsaFailure("malformed", f"not a TimeStampResp: {exc!r}") from exc
        if pki_answer not in ("granted", "granted_with_mods"):
            text = answer["status"]["status_string"].native
            raise TsaFailure("rejected", f"status {pki_answer}: {text}")
        if content_type_oid != "signed_data":
            raise TsaFailure("malformed", "the token is not a SignedData")
        signer = await token_check(
            token,
            message_digest=message_digest,
            md_algorithm=md_algorithm,
            nonce=nonce,
            trust_roots=roots,
        )
        return token, signer


def run_reporting(
    func: Callable[..., Any], *args: Any, timestamper: FailoverTimeStamper, **kwargs: Any
) -> tuple[Any, list[TsaAttempt]]:
    """``func(*args, timestamper=timestamper, **kwargs)`` and the TSA attempts it made.

    For a call in a validation child (``budget.run(run_reporting, engine.finalize, …)``): the
    child's timestamper is a copy, so its attempts come back with the result, or on the
    :class:`TimestampUnavailable` raised. Only the attempts made here: the copy also carries
    those its original had not drained yet (a signature made just before in the parent), which
    the parent reports itself; counted twice, a TSA showed more answers than it gave.
    """
    timestamper.drain()  # the original's, reported by the original
    try:
        result = func(*args, timestamper=timestamper, **kwargs)
    except TimestampUnavailable as exc:
        exc.attempts = timestamper.drain()
        raise
    return result, timestamper.drain()
