"""The service's key in an HSM (PKCS#11, SoftHSM2 here) and in a PKCS#12 file (issue 13).

Acceptance 1: contracts signed with a key generated inside the token validate in pyHanko,
pdfsig and `keiyaku verify`, and the token says the key is non-extractable and sensitive. A
session that drops under the signer is reopened once; a token that stays away is a clear error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pkcs11
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client
from pkcs11 import Attribute

from keiyaku.pki.service import get_authority
from keiyaku.signing import engine, keys
from keiyaku.signing.hsm import Pkcs11KeySigner, SigningKeyUnavailable
from tests.flow import External, completed_pdf, keiyaku_verify
from tests.outside import pdfsig
from tests.pdfs import make_pdf
from tests.signing.softhsm import MODULE, SoftHsmToken, create_token, issue

COMPANY = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> SoftHsmToken:
    """Its certificate is issued by keiyaku's own root (``get_authority``: no database)."""
    return create_token(tmp_path_factory.mktemp("softhsm"), get_authority())


@pytest.fixture
def hsm_settings(settings, token: SoftHsmToken) -> Iterator[SoftHsmToken]:
    """keiyaku configured to sign with the token, as a process started with its settings."""
    for name, value in token.settings().items():
        if name.startswith("KEIYAKU_"):
            setattr(settings, name, value)
    keys.get_service_signer.cache_clear()
    yield token
    keys.get_service_signer.cache_clear()


def _sign(signer: engine.ServiceSigner, pdf: bytes, field: str = "keiyaku-party-01") -> bytes:
    return engine.sign_agreement(
        pdf, field_name=field, reason="x", signer=signer, timestamper=keys.get_timestamper()
    )


def _signer_certs(report: engine.VerificationReport) -> list[str]:
    """SHA-256 (hex) of each signature's signing certificate."""
    return [s.signer_cert_sha256 or "" for s in report.signatures if s.kind == engine.SIGNATURE]


def _sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


@pytest.mark.slow(seconds=6)
@pytest.mark.django_db(transaction=True)
def test_a_contract_signed_in_the_hsm_validates_and_the_key_never_leaves_it(
    personas, hsm_settings: SoftHsmToken, tmp_path: Path
) -> None:
    pdf = completed_pdf(personas, [COMPANY])

    authority = get_authority()
    report = engine.verify(pdf, trust_roots=[authority.root_cert])
    assert report.ok
    # Both parties' signatures are the HSM key's.
    assert _signer_certs(report) == [_sha256(hsm_settings.cert_der)] * 2
    pdfsig(pdf, trust_root_pem=authority.root_pem())
    (tmp_path / "final.pdf").write_bytes(pdf)
    verified = keiyaku_verify(tmp_path / "final.pdf", "--json")
    result = json.loads(verified.stdout)
    assert (verified.returncode, result["verdict"], result["parties"], result["ltv_ok"]) == (
        0,
        "concluded",
        2,
        True,
    )

    # The key object, read back from the token: generated there, never extractable.
    signer = keys.get_service_signer().signer
    assert isinstance(signer, Pkcs11KeySigner)
    key = signer._private_key_object()
    assert key[Attribute.EXTRACTABLE] is False
    assert key[Attribute.SENSITIVE] is True
    assert key[Attribute.NEVER_EXTRACTABLE] is True
    assert key[Attribute.ALWAYS_SENSITIVE] is True
    assert key[Attribute.LOCAL] is True  # generated inside the token, not imported
    with pytest.raises(pkcs11.AttributeSensitive):
        key[Attribute.PRIVATE_EXPONENT]
    assert signer.key_attributes().stays_in_token
    # No private key keiyaku holds outside the token is the HSM key's.
    hsm_public = x509.load_der_x509_certificate(hsm_settings.cert_der).public_key()
    for name in ("root", "signer", "tsa"):
        outside = authority.private_key(name).public_key()
        assert outside.public_numbers() != hsm_public.public_numbers()  # type: ignore[union-attr]
    assert not any(
        b"PRIVATE KEY" in path.read_bytes()
        for path in hsm_settings.folder.iterdir()
        if path.is_file()
    )


@pytest.mark.django_db
def test_a_dropped_session_is_reopened_and_the_signature_made(token: SoftHsmToken) -> None:
    service = engine.ServiceSigner.from_pkcs11(token.config())
    signer = service.signer
    assert isinstance(signer, Pkcs11KeySigner)
    prepared = engine.prepare(make_pdf(), field_names=["keiyaku-party-01"])
    first = _sign(service, prepared)

    signer.session.close()  # logs the token out and closes the session under the signer
    again = _sign(service, prepared)

    # The token reset (removed and re-inserted, the HSM restarted): every handle is gone.
    pkcs11.lib(MODULE).reinitialize()
    third = _sign(service, prepared)

    roots = [get_authority().root_cert]
    for pdf in (first, again, third):
        report = engine.verify(pdf, trust_roots=roots)
        assert report.ok
        assert _signer_certs(report) == [_sha256(token.cert_der)]
    signer.close()


def test_worker_threads_share_the_session_from_the_first_signature(token: SoftHsmToken) -> None:
    """A queue consumer's threads sign at once with the process's signer, each in its own event
    loop, before the key handle was ever loaded."""
    service = engine.ServiceSigner.from_pkcs11(token.config())
    signer = service.signer
    assert isinstance(signer, Pkcs11KeySigner)
    public = x509.load_der_x509_certificate(token.cert_der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    messages = [f"agreement {n}".encode() for n in range(6)]
    start = threading.Barrier(len(messages))
    signatures: dict[bytes, bytes] = {}

    def sign(message: bytes) -> None:
        start.wait()
        signatures[message] = signer.sign_now(message)

    # Daemon threads: one that hangs must fail the test, not keep the process alive.
    threads = [threading.Thread(target=sign, args=(m,), daemon=True) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(signatures) == sorted(messages), "a signing thread hung or failed"
    for message, signature in signatures.items():
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    signer.close()


def test_a_token_that_stays_away_is_a_clear_error(token: SoftHsmToken) -> None:
    service = engine.ServiceSigner.from_pkcs11(token.config())
    signer = service.signer
    assert isinstance(signer, Pkcs11KeySigner)
    service.self_test()
    signer.session.close()
    # The token does not come back: the reopen finds no token with its label.
    signer.config = dataclasses.replace(signer.config, token_label="removed-token")
    prepared = engine.prepare(make_pdf(), field_names=["keiyaku-party-01"])
    with pytest.raises(SigningKeyUnavailable, match="after reopening the session"):
        _sign(service, prepared)


_INHERITED: dict[str, engine.ServiceSigner] = {}


def _sign_in_child(send) -> None:  # noqa: ANN001 - a multiprocessing Connection
    """In a forked child: sign with the signer the parent had opened."""
    try:
        signer = _INHERITED["signer"].signer
        assert isinstance(signer, Pkcs11KeySigner)
        send.send(signer.sign_now(b"signed in a forked child"))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent
        send.send(repr(exc))


def test_a_forked_child_opens_its_own_session(token: SoftHsmToken) -> None:
    service = engine.ServiceSigner.from_pkcs11(token.config())
    signer = service.signer
    assert isinstance(signer, Pkcs11KeySigner)
    service.self_test()  # the parent's session is open
    parent_session = signer.session
    _INHERITED["signer"] = service
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_sign_in_child, args=(send,))
    child.start()
    signature = receive.recv()
    child.join(30)
    assert isinstance(signature, bytes), signature
    public = x509.load_der_x509_certificate(token.cert_der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"signed in a forked child", padding.PKCS1v15(), hashes.SHA256())
    # The parent's session was neither used nor closed by the child.
    assert signer.session is parent_session
    service.self_test()
    signer.close()


def test_the_certificate_can_come_from_the_token(token: SoftHsmToken) -> None:
    service = engine.ServiceSigner.from_pkcs11(token.config(cert_from_token=True))
    assert service.cert.dump() == token.cert_der
    service.self_test()
    service.signer.close()  # type: ignore[attr-defined]


def test_signer_csr_writes_a_request_the_token_signed(hsm_settings: SoftHsmToken, settings) -> None:
    settings.KEIYAKU_SIGNER_PKCS11_CERT = ""  # not issued yet
    out = StringIO()
    call_command("signer_csr", "--common-name", "テスト市 電子契約", stdout=out)
    request = x509.load_pem_x509_csr(out.getvalue().encode())
    assert request.is_signature_valid
    assert (
        request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "テスト市 電子契約"
    )
    token_key = x509.load_der_x509_certificate(hsm_settings.cert_der).public_key()
    assert request.public_key() == token_key


@pytest.mark.django_db
def test_an_ec_key_in_the_token_signs_too(token: SoftHsmToken) -> None:
    """P-256: the token signs a SHA-256 digest (SoftHSM has no ECDSA-with-SHA-2 mechanism)."""
    service = engine.ServiceSigner.from_pkcs11(token.config(ec=True))
    pdf = _sign(service, engine.prepare(make_pdf(), field_names=["keiyaku-party-01"]))
    authority = get_authority()
    assert engine.verify(pdf, trust_roots=[authority.root_cert]).ok
    pdfsig(pdf, trust_root_pem=authority.root_pem())
    service.signer.close()  # type: ignore[attr-defined]


def _deploy_errors() -> dict[str, str]:
    return {
        message.id: message.msg
        for message in run_checks(include_deployment_checks=True, tags=["security"])
        if message.id and message.id.startswith("keiyaku.E13")
    }


@pytest.mark.django_db
def test_check_deploy_and_readiness_try_the_hsm_key(
    hsm_settings: SoftHsmToken, settings, tmp_path: Path
) -> None:
    assert _deploy_errors() == {}
    assert Client().get("/readyz").json()["checks"]["signing_key"]["status"] == "ok"

    # A certificate that is not the key's (keiyaku's own signing certificate).
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(_pem(get_authority().signer_cert))
    settings.KEIYAKU_SIGNER_PKCS11_CERT = str(wrong)
    keys.get_service_signer.cache_clear()
    assert list(_deploy_errors()) == ["keiyaku.E132"]
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["signing_key"] == {
        **answer.json()["checks"]["signing_key"],
        "status": "fail",
        "detail": "SigningKeyMismatch",
    }

    settings.KEIYAKU_SIGNER_PKCS11_CERT = hsm_settings.settings()["KEIYAKU_SIGNER_PKCS11_CERT"]
    settings.KEIYAKU_SIGNER_PKCS11_PIN = "0000-wrong"
    keys.get_service_signer.cache_clear()
    pkcs11.lib(MODULE).reinitialize()  # log the process out: the wrong PIN must be tried
    errors = _deploy_errors()
    assert list(errors) == ["keiyaku.E131"]
    assert "0000-wrong" not in errors["keiyaku.E131"]

    settings.KEIYAKU_SIGNER_PKCS11_PIN = ""
    keys.get_service_signer.cache_clear()
    assert "KEIYAKU_SIGNER_PKCS11_PIN" in _deploy_errors()["keiyaku.E130"]
    settings.KEIYAKU_SIGNER_PKCS12 = str(tmp_path / "signer.p12")
    assert "both set" in _deploy_errors()["keiyaku.E130"]


def test_a_certificate_without_non_repudiation_is_refused_at_deploy(settings, tmp_path: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digitalSignature")]))
        .sign(key, hashes.SHA256())
    )
    cert = issue(
        request.public_bytes(serialization.Encoding.DER), get_authority(), non_repudiation=False
    )
    (tmp_path / "signer.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"signer", key, cert, None, serialization.NoEncryption()
        )
    )
    settings.KEIYAKU_SIGNER_PKCS12 = str(tmp_path / "signer.p12")
    keys.get_service_signer.cache_clear()
    try:
        assert list(_deploy_errors()) == ["keiyaku.E134"]
    finally:
        keys.get_service_signer.cache_clear()


def _pem(cert: asn1_x509.Certificate) -> bytes:
    return x509.load_der_x509_certificate(cert.dump()).public_bytes(serialization.Encoding.PEM)


@pytest.mark.slow(seconds=5)
@pytest.mark.django_db(transaction=True)
def test_a_contract_signed_with_a_pkcs12_file_validates(personas, settings, tmp_path: Path):
    """KEIYAKU_SIGNER_PKCS12 end to end: a key and certificate of their own (not keiyaku's)."""
    authority = get_authority()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keiyaku PKCS#12")]))
        .sign(key, hashes.SHA256())
    )
    cert = issue(request.public_bytes(serialization.Encoding.DER), authority)
    bundle = pkcs12.serialize_key_and_certificates(
        b"signer",
        key,
        cert,
        [x509.load_der_x509_certificate(authority.root_cert.dump())],
        serialization.BestAvailableEncryption(b"p12-secret"),
    )
    (tmp_path / "signer.p12").write_bytes(bundle)
    settings.KEIYAKU_SIGNER_PKCS12 = str(tmp_path / "signer.p12")
    settings.KEIYAKU_SIGNER_PKCS12_PASSWORD = "p12-secret"  # noqa: S105 - a test value
    keys.get_service_signer.cache_clear()
    try:
        assert _deploy_errors() == {}
        pdf = completed_pdf(personas, [COMPANY])
    finally:
        keys.get_service_signer.cache_clear()
    report = engine.verify(pdf, trust_roots=[authority.root_cert])
    assert report.ok
    assert _signer_certs(report) == [_sha256(cert.public_bytes(serialization.Encoding.DER))] * 2
    pdfsig(pdf, trust_root_pem=authority.root_pem())
    (tmp_path / "final.pdf").write_bytes(pdf)
    verified = keiyaku_verify(tmp_path / "final.pdf", "--json")
    assert (verified.returncode, json.loads(verified.stdout)["verdict"]) == (0, "concluded")
