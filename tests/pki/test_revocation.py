"""CRL and OCSP of keiyaku's authority, read back by openssl and cryptography."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathValidationError

from keiyaku.pki import revocation
from keiyaku.pki.authority import Authority


def _x509(cert) -> x509.Certificate:  # asn1crypto -> cryptography
    return x509.load_der_x509_certificate(cert.dump())


# OCSP clients still name certificates by SHA-1 hashes (RFC 6960 CertID); both must work.
SHA1 = hashes.SHA1()  # noqa: S303


def _request(cert, authority: Authority, algorithm: hashes.HashAlgorithm = SHA1) -> bytes:
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(_x509(cert), _x509(authority.root_cert), algorithm)
        .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )


def test_crl_is_read_by_openssl_and_signed_by_the_root(
    authority: Authority, tmp_path: Path
) -> None:
    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    der = revocation.current_crl(authority, now=now)
    (tmp_path / "crl.der").write_bytes(der)
    (tmp_path / "root.pem").write_bytes(authority.root_pem())
    result = subprocess.run(
        [
            "openssl",
            "crl",
            "-inform",
            "DER",
            "-in",
            tmp_path / "crl.der",
            "-noout",
            "-text",
            "-CAfile",
            tmp_path / "root.pem",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert "No Revoked Certificates" in result.stdout

    crl = x509.load_der_x509_crl(der)
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=7)
    assert crl.is_signature_valid(_x509(authority.root_cert).public_key())
    later = x509.load_der_x509_crl(
        revocation.current_crl(authority, now=now + dt.timedelta(hours=1))
    )
    number = x509.CRLNumber
    assert later.extensions.get_extension_for_class(number).value.crl_number > (
        crl.extensions.get_extension_for_class(number).value.crl_number
    )


def test_ocsp_says_good_for_our_certificates(authority: Authority) -> None:
    for cert in (authority.signer_cert, authority.tsa_cert):
        for algorithm in (SHA1, hashes.SHA256()):
            der = revocation.ocsp_respond(_request(cert, authority, algorithm), authority=authority)
            response = ocsp.load_der_ocsp_response(der)
            assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
            assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
            assert response.serial_number == cert.serial_number
            assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
                b"0123456789abcdef"
            )
            root_key = _x509(authority.root_cert).public_key()
            root_key.verify(  # type: ignore[union-attr, call-arg]
                response.signature,
                response.tbs_response_bytes,
                __import__(
                    "cryptography.hazmat.primitives.asymmetric.padding", fromlist=["x"]
                ).PKCS1v15(),
                response.signature_hash_algorithm,
            )


def test_openssl_accepts_the_ocsp_response(authority: Authority, tmp_path: Path) -> None:
    (tmp_path / "root.pem").write_bytes(authority.root_pem())
    (tmp_path / "req.der").write_bytes(_request(authority.signer_cert, authority))
    (tmp_path / "resp.der").write_bytes(
        revocation.ocsp_respond((tmp_path / "req.der").read_bytes(), authority=authority)
    )
    result = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-respin",
            tmp_path / "resp.der",
            "-reqin",
            tmp_path / "req.der",
            "-CAfile",
            tmp_path / "root.pem",
            "-resp_text",
        ],
        capture_output=True,
        text=True,
    )
    assert "Response verify OK" in result.stderr + result.stdout, result.stderr
    assert "Cert Status: good" in result.stdout


def test_ocsp_says_unknown_for_a_stranger(authority: Authority) -> None:
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            issuer_name_hash=bytes(20),
            issuer_key_hash=bytes(20),
            serial_number=42,
            algorithm=SHA1,
        )
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    response = ocsp.load_der_ocsp_response(revocation.ocsp_respond(request, authority=authority))
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_malformed_ocsp_request_gets_malformed_status(authority: Authority) -> None:
    for junk in (b"", b"\x30\x03\x02\x01", b"hello"):
        response = ocsp.load_der_ocsp_response(revocation.ocsp_respond(junk, authority=authority))
        assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_validation_context_validates_without_network(authority: Authority) -> None:
    for cert, usage in ((authority.signer_cert, {"non_repudiation"}), (authority.tsa_cert, set())):
        context = revocation.validation_context(authority)
        assert context.fetching_allowed is False
        validator = CertificateValidator(cert, validation_context=context)
        path = asyncio.run(validator.async_validate_usage(usage))
        # The context is built from DER (`validation_inputs`), so compare the encodings.
        assert path.first.dump() == authority.root_cert.dump()

        # The same check without our CRL and OCSP answers fails: they are what made it pass.
        bare = ValidationContext(
            trust_roots=[authority.root_cert],
            allow_fetching=False,
            revocation_mode="hard-fail",
            crls=[],
            ocsps=[],
        )
        with pytest.raises(PathValidationError):
            asyncio.run(
                CertificateValidator(cert, validation_context=bare).async_validate_usage(usage)
            )


def test_validation_context_can_be_moved_in_time(authority: Authority) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)
    context = revocation.validation_context(authority, at=later)
    validator = CertificateValidator(authority.tsa_cert, validation_context=context)
    asyncio.run(validator.async_validate_usage(set()))
