"""Validation data for external chains, fetched from the certificates' own URLs (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization

from keiyaku.operations.checks import trust_roots_usable
from keiyaku.pki import chains
from tests.servers.external_pki import ExternalCA, external_ca


def _asn1(cert) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalCA]:
    with external_ca(tmp_path_factory.mktemp("chains")) as started:
        yield started


@pytest.fixture
def loopback_allowed(settings) -> None:
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]


def _gather(ca: ExternalCA, pool=()) -> chains.Gathered:
    return chains.gather(
        [_asn1(ca.signer_cert)], pool=pool, trust_roots=[ca.root_asn1], covered=lambda c: False
    )


def test_a_missing_intermediate_is_fetched_from_ca_issuers(ca, loopback_allowed) -> None:
    ca.server.requests.clear()
    gathered = _gather(ca)  # the intermediate is nowhere but at its caIssuers URL
    assert _asn1(ca.intermediate.cert).dump() in gathered.certs
    assert "GET /certs/ca.crt" in ca.server.requests
    assert len(gathered.ocsps) == 1  # the signer's (the intermediate names no responder)
    assert len(gathered.crls) == 2  # the intermediate's CRL for the signer, the root's for it


def test_a_revoked_signing_certificate_is_refused(ca, loopback_allowed) -> None:
    ca.intermediate.revoked.add(ca.signer_cert.serial_number)
    try:
        with pytest.raises(chains.ValidationDataUnavailable, match="revoked"):
            _gather(ca, pool=[_asn1(ca.intermediate.cert)])
    finally:
        ca.intermediate.revoked.clear()


def test_fetching_goes_through_the_outbound_policy(ca, settings) -> None:
    settings.KEIYAKU_OUTBOUND_ALLOW = []  # loopback is internal: refused before connecting
    ca.server.requests.clear()
    with pytest.raises(chains.ValidationDataUnavailable, match="no OCSP answer"):
        _gather(ca, pool=[_asn1(ca.intermediate.cert)])
    assert ca.server.requests == []


def test_a_chain_to_no_trusted_root_is_refused(ca, loopback_allowed) -> None:
    with pytest.raises(chains.ValidationDataUnavailable, match="trust root"):
        chains.gather(
            [_asn1(ca.signer_cert)],
            pool=[_asn1(ca.intermediate.cert)],
            trust_roots=[],
            covered=lambda c: False,
        )


@pytest.mark.django_db
def test_deploy_check_names_unreadable_roots_and_an_unchained_signer(ca, settings, tmp_path):
    from keiyaku.signing import keys

    settings.KEIYAKU_SIGNER_PKCS12 = str(ca.pkcs12_path)
    settings.KEIYAKU_SIGNER_PKCS12_PASSWORD = ca.pkcs12_password
    keys.get_service_signer.cache_clear()
    try:
        settings.KEIYAKU_TRUST_ROOTS = []
        assert [e.id for e in trust_roots_usable()] == ["keiyaku.E151"]
        settings.KEIYAKU_TRUST_ROOTS = [str(ca.root_pem_path)]
        assert trust_roots_usable() == []
        junk = tmp_path / "junk.pem"
        junk.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        settings.KEIYAKU_TRUST_ROOTS = [str(junk)]
        assert [e.id for e in trust_roots_usable()] == ["keiyaku.E150"]
    finally:
        keys.get_service_signer.cache_clear()


def test_the_signer_and_authority_in_use_follow_the_settings(ca, settings, tmp_path):
    """A process whose settings change signs with the key they name, without a restart hook
    (the trust page once showed a signing certificate another test's settings had loaded)."""
    from keiyaku.pki.service import get_authority
    from keiyaku.signing import keys

    own = get_authority()
    assert keys.get_service_signer().cert.dump() == own.signer_cert.dump()
    settings.KEIYAKU_SIGNER_PKCS12 = str(ca.pkcs12_path)
    settings.KEIYAKU_SIGNER_PKCS12_PASSWORD = ca.pkcs12_password
    assert keys.get_service_signer().cert.dump() == _asn1(ca.signer_cert).dump()
    settings.KEIYAKU_SIGNER_PKCS12 = ""
    assert keys.get_service_signer().cert.dump() == own.signer_cert.dump()
    # Another PKI folder is another authority, and the local signer follows it.
    settings.KEIYAKU_PKI_DIR = tmp_path / "pki"
    other = get_authority()
    assert other.root_cert.dump() != own.root_cert.dump()
    assert keys.get_service_signer().cert.dump() == other.signer_cert.dump()
