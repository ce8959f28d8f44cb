"""Several TSAs in order: each failure (unreachable, slow, HTTP error, a token with a wrong nonce
or imprint, a broken signature, an untrusted signer) is logged, counted and passed over for the
next TSA; credentials (HTTP Basic, a TLS client certificate) reach their own TSA only.

Every TSA is a real server on loopback (tests/servers/rfc3161_tsa.py); tokens are asked for
as pyHanko asks while signing (``async_timestamp``), without a PDF around them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import pickle
from collections.abc import Iterator

import pytest
from asn1crypto import cms

from keiyaku.outbound_http import TlsOptions
from keiyaku.pki.authority import Authority
from keiyaku.signing import engine, timestamping
from keiyaku.signing.timestamping import TsaEndpoint
from tests.servers.rfc3161_tsa import (
    TlsFiles,
    TsaIdentity,
    closed_port,
    running_tsa,
    tls_files,
    tsa_identity_under,
    untrusted_tsa_identity,
)

DIGEST = hashlib.sha256(b"keiyaku").digest()


@pytest.fixture(scope="module")
def other_trusted_tsa(authority: Authority) -> TsaIdentity:
    """A second TSA certificate from keiyaku's root: trusted, but not keiyaku's TSA."""
    return tsa_identity_under(authority.root_cert, authority.private_key("root"), "Test TSA 1")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return tls_files(tmp_path_factory.mktemp("tsa-tls"))


@pytest.fixture(scope="module")
def good_tsa(authority: Authority) -> Iterator[str]:
    with running_tsa(authority) as server:
        yield server.url


def stamp(
    authority: Authority, *endpoints: TsaEndpoint, timeout: float = 5
) -> tuple[cms.ContentInfo, list[timestamping.TsaAttempt]]:
    stamper = engine.make_timestamper(
        [], endpoints=endpoints, timeout=timeout, trust_roots=[authority.root_cert]
    )
    token = asyncio.run(stamper.async_timestamp(DIGEST, "sha256"))
    return token, stamper.drain()


def signer_cn(token: cms.ContentInfo) -> str:
    certs = token["content"]["certificates"]
    return str(certs[0].chosen.subject.native["common_name"])


@pytest.mark.parametrize(
    "misbehaviour",
    ["refused", "http_error", "wrong_nonce", "wrong_imprint", "bad_signature", "untrusted"],
)
def test_a_bad_first_tsa_is_passed_over_logged_and_counted(
    misbehaviour, authority, other_trusted_tsa, good_tsa, caplog
) -> None:
    expected = {"refused": "connection", "http_error": "http_status"}.get(
        misbehaviour, misbehaviour
    )
    identity = untrusted_tsa_identity() if misbehaviour == "untrusted" else other_trusted_tsa
    served = "" if misbehaviour in ("refused", "untrusted") else misbehaviour
    with running_tsa(identity, misbehaviour=served) as first:
        url = f"http://127.0.0.1:{closed_port()}/tsa" if misbehaviour == "refused" else first.url
        before = timestamping.failure_counts().get((url, expected), 0)
        with caplog.at_level(logging.WARNING, logger="keiyaku.signing.timestamping"):
            token, attempts = stamp(authority, TsaEndpoint(url), TsaEndpoint(good_tsa))

    assert signer_cn(token) == authority.tsa_cert.subject.native["common_name"]
    assert [(a.url, a.ok, a.reason) for a in attempts] == [
        (url, False, expected),
        (good_tsa, True, ""),
    ]
    assert timestamping.failure_counts()[(url, expected)] == before + 1
    assert any(url in r.getMessage() and expected in r.getMessage() for r in caplog.records)


def test_a_tsa_that_does_not_answer_in_time_is_passed_over(authority, good_tsa) -> None:
    with running_tsa(authority, misbehaviour="hang") as slow:
        _token, attempts = stamp(authority, TsaEndpoint(slow.url), TsaEndpoint(good_tsa), timeout=1)
    assert [(a.reason, a.ok) for a in attempts] == [("timeout", False), ("", True)]
    assert attempts[0].seconds < 3


def test_the_token_of_a_trusted_other_tsa_is_taken(authority, other_trusted_tsa) -> None:
    """The check is the signer's chain, not its name: any TSA under a trusted root will do."""
    with running_tsa(other_trusted_tsa) as server:
        token, attempts = stamp(authority, TsaEndpoint(server.url))
    assert signer_cn(token) == "Test TSA 1"
    assert "Test TSA 1" in attempts[0].signer


def test_when_every_tsa_fails_nothing_is_stamped_and_every_attempt_is_told(authority) -> None:
    urls = [f"http://127.0.0.1:{closed_port()}/tsa" for _ in range(2)]
    stamper = engine.make_timestamper(urls, timeout=2, trust_roots=[authority.root_cert])
    with pytest.raises(engine.TimestampUnavailable) as raised:
        asyncio.run(stamper.async_timestamp(DIGEST, "sha256"))
    # It crosses the validation child's pipe with its attempts.
    again = pickle.loads(pickle.dumps(raised.value))  # noqa: S301 - our own exception
    assert [(a.url, a.reason) for a in again.attempts] == [(u, "connection") for u in urls]


def test_basic_credentials_go_to_their_own_tsa_alone(authority, good_tsa) -> None:
    with running_tsa(authority, username="city", password="s3cret") as guarded:
        _t, refused = stamp(authority, TsaEndpoint(guarded.url), TsaEndpoint(good_tsa))
        _t, granted = stamp(authority, TsaEndpoint(guarded.url, username="city", password="s3cret"))
    assert (refused[0].reason, refused[0].detail) == ("http_status", "HTTP 401")
    assert granted[0].ok
    assert [r["authorization"] for r in guarded.requests] == ["", "Basic Y2l0eTpzM2NyZXQ="]


@pytest.mark.parametrize("form", ["one file", "two files"])
def test_a_tsa_asking_for_a_client_certificate_gets_it(
    form, authority, tls: TlsFiles, good_tsa
) -> None:
    client = (
        TlsOptions(ca_file=str(tls.ca_file), client_cert=str(tls.client_bundle))
        if form == "one file"
        else TlsOptions(
            ca_file=str(tls.ca_file),
            client_cert=str(tls.client_cert),
            client_key=str(tls.client_key),
        )
    )
    stranger = TlsOptions(ca_file=str(tls.ca_file), client_cert=str(tls.stranger_cert))
    with running_tsa(authority, tls=tls) as server:
        _t, without = stamp(
            authority,
            TsaEndpoint(server.url, tls=TlsOptions(ca_file=str(tls.ca_file))),
            TsaEndpoint(server.url, tls=stranger),
            TsaEndpoint(good_tsa),
        )
        _t, granted = stamp(authority, TsaEndpoint(server.url, tls=client))
    assert [(a.ok, a.reason) for a in without] == [
        (False, "connection"),
        (False, "connection"),
        (True, ""),
    ]
    assert granted[0].ok and server.requests[-1]["client"] == "keiyaku"


def test_a_tsa_whose_server_certificate_is_not_trusted_is_passed_over(
    authority, tls: TlsFiles, good_tsa
) -> None:
    """Without the operator's CA file the test CA is unknown: no token, whatever it says."""
    with running_tsa(authority, tls=tls) as server:
        client = TlsOptions(client_cert=str(tls.client_bundle))
        _t, attempts = stamp(authority, TsaEndpoint(server.url, tls=client), TsaEndpoint(good_tsa))
    assert attempts[0].reason == "connection" and "CERTIFICATE_VERIFY_FAILED" in attempts[0].detail
    assert not server.requests


def test_the_url_shown_carries_no_credentials() -> None:
    endpoint = TsaEndpoint("https://user:pw@tsa.example.jp:8443/tsp?key=1")
    assert endpoint.label == "https://tsa.example.jp:8443/tsp"


def test_the_tsa_that_answered_is_asked_first_for_the_rest_of_the_job(
    authority, other_trusted_tsa, good_tsa
) -> None:
    """Finalising gathers the validation data of the TSA that answers the size estimate; the
    document timestamp must come from that TSA even when the first in the list is back."""
    port = closed_port()
    stamper = engine.make_timestamper(
        [],
        endpoints=[TsaEndpoint(f"http://127.0.0.1:{port}/tsa"), TsaEndpoint(good_tsa)],
        timeout=5,
        trust_roots=[authority.root_cert],
    )
    asyncio.run(stamper.async_timestamp(DIGEST, "sha256"))  # the first is down: the second
    stamper.drain()
    with running_tsa(other_trusted_tsa, port=port):
        token = asyncio.run(stamper.async_timestamp(DIGEST, "sha256"))
        again = pickle.loads(pickle.dumps(stamper))  # noqa: S301 - as a validation child gets it
        token_in_child = asyncio.run(again.async_timestamp(DIGEST, "sha256"))
    tsa = authority.tsa_cert.subject.native["common_name"]
    assert signer_cn(token) == tsa and signer_cn(token_in_child) == tsa
    assert [(a.url, a.ok) for a in stamper.drain()] == [(good_tsa, True)]
