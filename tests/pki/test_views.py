"""The public PKI endpoints (/pki/...), as HTTP clients see them."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import quote

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.test import Client

from keiyaku.pki import service, tsa_access, views
from keiyaku.pki.authority import Authority
from keiyaku.signing.keys import get_timestamper


@pytest.fixture(autouse=True)
def _our_authority(monkeypatch: pytest.MonkeyPatch, authority: Authority) -> None:
    monkeypatch.setattr(views, "get_authority", lambda: authority)


@pytest.fixture
def http() -> Client:
    # CSRF checks on, as for a real client that never saw a form.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def keiyaku_process() -> Client:
    """A client carrying the token keiyaku's own processes send to its TSA."""
    return Client(enforce_csrf_checks=True, headers={tsa_access.HEADER: tsa_access.client_token()})


def _query() -> bytes:
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": bytes(32),
            },
            "cert_req": True,
        }
    ).dump()


def _granted(response) -> bool:
    return (
        response.status_code == 200
        and response["Content-Type"] == "application/timestamp-reply"
        and tsp.TimeStampResp.load(response.content)["status"]["status"].native == "granted"
    )


def _ocsp_request(authority: Authority) -> bytes:
    cert = x509.load_der_x509_certificate(authority.signer_cert.dump())
    issuer = x509.load_der_x509_certificate(authority.root_cert.dump())
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )


def test_tsa_grants_a_timestamp_to_keiyaku_itself(keiyaku_process: Client) -> None:
    response = keiyaku_process.post(
        "/pki/tsa", _query(), content_type="application/timestamp-query"
    )
    assert _granted(response)


@pytest.mark.parametrize("token", [None, "", "0" * 64, "not-the-token"])
def test_tsa_refuses_anyone_else(token: str | None) -> None:
    headers = {} if token is None else {tsa_access.HEADER: token}
    http = Client(enforce_csrf_checks=True, headers=headers)
    response = http.post("/pki/tsa", _query(), content_type="application/timestamp-query")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert b"granted" not in response.content and len(response.content) < 100


def test_an_operator_may_open_the_tsa(http: Client, settings) -> None:
    settings.KEIYAKU_TSA_PUBLIC = True
    response = http.post("/pki/tsa", _query(), content_type="application/timestamp-query")
    assert _granted(response)


@pytest.mark.django_db(transaction=True)
def test_keiyakus_own_timestamper_is_answered_over_http(live_server, settings, monkeypatch) -> None:
    """As in production: the signing jobs reach {PUBLIC_URL}/pki/tsa over HTTP, and the
    endpoint signs with the process's own authority, whose root they trust (issue 13: a token
    from any other root is refused)."""
    monkeypatch.setattr(views, "get_authority", service.get_authority)
    settings.PUBLIC_URL = live_server.url
    settings.KEIYAKU_TSA_URLS = [f"{live_server.url}/pki/tsa"]
    token = asyncio.run(get_timestamper().async_timestamp(bytes(32), "sha256"))
    assert token["content"]["encap_content_info"]["content"].parsed["gen_time"].native


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/timestamp-query"),
        (b"x" * 20000, "application/timestamp-query"),
        (b"\x30\x00", "text/plain"),
    ],
)
def test_tsa_refuses_what_is_not_a_query(
    keiyaku_process: Client, body: bytes, content_type: str
) -> None:
    response = keiyaku_process.post("/pki/tsa", body, content_type=content_type)
    assert response.status_code == 400
    assert len(response.content) < 100


def test_tsa_answers_garbage_in_the_right_envelope_with_a_rejection(
    keiyaku_process: Client,
) -> None:
    response = keiyaku_process.post(
        "/pki/tsa", b"garbage", content_type="application/timestamp-query"
    )
    assert response.status_code == 200
    assert b"malformed" in response.content


def test_tsa_is_post_only(http: Client) -> None:
    assert http.get("/pki/tsa").status_code == 405


def test_crl_is_served_as_der(http: Client, authority: Authority) -> None:
    response = http.get("/pki/crl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.issuer == x509.load_der_x509_certificate(authority.root_cert.dump()).subject


def test_ocsp_post_and_get(http: Client, authority: Authority) -> None:
    der = _ocsp_request(authority)
    posted = http.post("/pki/ocsp", der, content_type="application/ocsp-request")
    # NSS escapes '/', '+' and '=' in the GET form (RFC 6960 A.1).
    got = http.get("/pki/ocsp/" + quote(base64.b64encode(der).decode(), safe=""))
    for response in (posted, got):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/ocsp-response"
        assert ocsp.load_der_ocsp_response(response.content).certificate_status == (
            ocsp.OCSPCertStatus.GOOD
        )


def test_ocsp_bad_input(http: Client) -> None:
    assert http.get("/pki/ocsp/%%%not-base64").status_code == 400
    malformed = http.post("/pki/ocsp", b"junk", content_type="application/ocsp-request")
    assert malformed.status_code == 200
    status = ocsp.load_der_ocsp_response(malformed.content).response_status
    assert status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert http.post("/pki/ocsp", b"", content_type="application/ocsp-request").status_code == 400


def test_root_certificate_is_der(http: Client, authority: Authority) -> None:
    response = http.get("/pki/root.crt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-cert"
    assert response.content == authority.root_cert.dump()
