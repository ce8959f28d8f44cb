"""The configured TSAs from the settings, and what they did as recorded for every process:
counts, last success and failure, the outage and the jobs' back-off (keiyaku.signing.tsas)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from keiyaku.outbound_http import TlsOptions
from keiyaku.pki import tsa_access
from keiyaku.settings import _tsa_credentials
from keiyaku.signing.timestamping import TsaAttempt
from keiyaku.signing.tsas import (
    RETRY_BASE_SECONDS,
    RETRY_MAX_SECONDS,
    tsa_attempts_record,
    tsa_endpoints,
    tsa_outage_since,
    tsa_retry_delay,
    tsa_states,
)

pytestmark = pytest.mark.django_db

A, B = "https://tsa-a.example.jp/tsp", "https://tsa-b.example.jp/tsp"


def attempt(url: str, ok: bool, minutes_ago: float, reason: str = "connection") -> TsaAttempt:
    return TsaAttempt(
        url=url,
        ok=ok,
        at=timezone.now() - timedelta(minutes=minutes_ago),
        seconds=0.1,
        reason="" if ok else reason,
        detail="" if ok else "refused",
        signer="CN=TSA" if ok else "",
    )


def test_numbered_settings_give_each_tsa_its_credentials(monkeypatch, settings) -> None:
    monkeypatch.setenv("KEIYAKU_TSA_2_USERNAME", "city")
    monkeypatch.setenv("KEIYAKU_TSA_2_PASSWORD", "pw")
    monkeypatch.setenv("KEIYAKU_TSA_1_CLIENT_CERT", "/etc/keiyaku/tsa1.pem")
    settings.KEIYAKU_TSA_URLS = [A, B, f"{settings.PUBLIC_URL}/pki/tsa"]
    settings.KEIYAKU_TSA_CREDENTIALS = _tsa_credentials(3)
    first, second, own = tsa_endpoints()
    assert (first.username, first.tls) == ("", TlsOptions(client_cert="/etc/keiyaku/tsa1.pem"))
    assert (second.username, second.password, second.tls) == ("city", "pw", None)
    # keiyaku's own endpoint gets its client token; no other TSA sees it.
    assert tsa_access.HEADER in own.headers and not first.headers and not second.headers


def test_attempts_are_counted_and_the_last_failure_kept(settings) -> None:
    settings.KEIYAKU_TSA_URLS = [A, B]
    first, second = attempt(A, False, 3, "wrong_nonce"), attempt(A, False, 2, "timeout")
    tsa_attempts_record([first, attempt(B, True, 3)])
    tsa_attempts_record([second, attempt(B, True, 2)])
    a, b = tsa_states()
    assert (a.failures, a.successes, a.last_failure_reason, a.failing) == (2, 0, "timeout", True)
    assert (a.failing_since, a.last_failure_at) == (first.at, second.at)
    assert (b.successes, b.failing, b.last_signer) == (2, False, "CN=TSA")
    assert tsa_outage_since() is None  # B works


def test_the_back_off_grows_with_the_outage_and_ends_with_a_success(settings) -> None:
    settings.KEIYAKU_TSA_URLS = [A, B]
    assert tsa_retry_delay() == RETRY_BASE_SECONDS  # nothing recorded yet
    tsa_attempts_record([attempt(A, False, 60), attempt(B, False, 5)])
    assert tsa_outage_since() is not None
    assert 295 <= tsa_retry_delay() <= 305  # the outage began when B, the last one, failed
    tsa_attempts_record([attempt(B, False, 1)])  # a later failure does not restart it
    assert 295 <= tsa_retry_delay() <= 305
    tsa_attempts_record([attempt(A, False, 0)])
    settings.KEIYAKU_TSA_URLS = [A]  # A alone has been failing for an hour
    assert tsa_retry_delay() == RETRY_MAX_SECONDS
    tsa_attempts_record([attempt(A, True, 0)])
    assert tsa_outage_since() is None and tsa_retry_delay() == RETRY_BASE_SECONDS
