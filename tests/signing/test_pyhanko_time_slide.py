"""keiyaku.signing.pyhanko_time_slide: revocation data issued after a certificate expired says
nothing about it (issue 13, acceptance 4; ETSI EN 319 102-1 §5.6.2.2; RFC 5280 §3.3).

A small PKI made here: a root and a certificate that lives two years (a TSA's), the root's CRLs
at chosen times, and pyhanko-certvalidator's past certificate validation (§5.6.2.1) run at a
validation time three years on, as for an archive timestamp whose TSA certificate expired. The
proofs of existence are those an archive timestamp chain gives: each CRL from its issuance.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from asn1crypto import crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
    bootstrap_validation_data_handlers,
)
from pyhanko_certvalidator.authority import CertTrustAnchor
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.errors import ValidationError
from pyhanko_certvalidator.ltv import time_slide
from pyhanko_certvalidator.ltv.ades_past import past_validate
from pyhanko_certvalidator.ltv.poe import POEManager, POEType
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer

from keiyaku.signing import pyhanko_time_slide

T0 = dt.datetime(2030, 4, 1, tzinfo=dt.UTC)
YEAR = dt.timedelta(days=365)
WEEK = dt.timedelta(days=7)
LATER = T0 + 3 * YEAR  # the certificate ended at T0 + 2 years


class Pki:
    """A root and a two-year end-entity certificate it issued, both EC P-256."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Test root")])
        root = (
            self._builder(name, name, self.root_key.public_key(), T0 - YEAR, T0 + 20 * YEAR)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key()),
                critical=False,
            )
            .sign(self.root_key, hashes.SHA256())
        )
        self.root_name = root.subject
        leaf_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Two-year TSA")])
        leaf = (
            self._builder(leaf_name, name, leaf_key.public_key(), T0, T0 + 2 * YEAR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .sign(self.root_key, hashes.SHA256())
        )
        self.root, self.leaf = _asn1(root), _asn1(leaf)
        self.leaf_serial = leaf.serial_number

    def _builder(self, subject, issuer, key, start, end) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                critical=False,
            )
        )

    def crl(self, issued: dt.datetime, *, revoked_at: dt.datetime | None = None) -> CRLContainer:
        """The root's CRL issued at ``issued``, valid a week, listing the certificate revoked
        at ``revoked_at`` if given."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root_name)
            .last_update(issued)
            .next_update(issued + WEEK)
            .add_extension(x509.CRLNumber(int(issued.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                critical=False,
            )
        )
        if revoked_at is not None:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(self.leaf_serial)
                .revocation_date(revoked_at)
                .build()
            )
        der = builder.sign(self.root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return CRLContainer(crl.CertificateList.load(der))

    def past_validate(self, crls: list[CRLContainer]) -> dt.datetime:
        """The control time pyhanko-certvalidator's past validation gives at :data:`LATER`,
        with ``crls`` known and each proven to exist from its issuance; raises
        ``ValidationError`` when the certificate does not pass."""
        policy, handlers, path = self._setting(crls)
        return asyncio.run(past_validate(path, policy, handlers, init_control_time=LATER))

    def slide(self, crls: list[CRLContainer]) -> dt.datetime:
        """The control time of the time slide alone (§5.6.2.2), from :data:`LATER`."""
        policy, handlers, path = self._setting(crls)
        return asyncio.run(
            time_slide.time_slide(
                path,
                init_control_time=LATER,
                revinfo_manager=handlers.revinfo_manager,
                rev_trust_policy=policy.revinfo_policy,
                algo_usage_policy=policy.algorithm_usage_policy,
                time_tolerance=policy.time_tolerance,
            )
        )

    def _setting(self, crls):
        policy = CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[self.root]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        )
        spec = SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
            local_knowledge=LocalKnowledge(known_crls=crls, known_certs=[self.root]),
        )
        poe = POEManager(current_dt_override=LATER)
        poe.register(self.leaf, POEType.PROVIDED, T0)
        for item in crls:
            poe.register(item, POEType.PROVIDED, item.issuance_date)
        timing = ValidationTimingInfo(LATER, LATER, point_in_time_validation=True)
        handlers = bootstrap_validation_data_handlers(
            spec, timing_info=timing, poe_manager_override=poe
        )
        return policy, handlers, ValidationPath(CertTrustAnchor(self.root), [], self.leaf)


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture
def without_override():
    time_slide.ades_gather_prima_facie_revinfo = pyhanko_time_slide.upstream
    try:
        yield
    finally:
        pyhanko_time_slide.install()


def test_installed_once_keiyaku_signing_is_imported():
    assert pyhanko_time_slide.installed()


def test_the_control_time_slides_back_into_the_certificates_life(pki):
    """The CRL of year 1 vouches for the certificate until its next update; the one of year 3,
    a year after the certificate expired, does not vouch for it at all."""
    in_life, after = pki.crl(T0 + YEAR), pki.crl(T0 + 3 * YEAR - WEEK)
    control_time = pki.past_validate([in_life, after])
    # pyHanko's one second of tolerance aside
    assert T0 + YEAR + WEEK <= control_time <= T0 + YEAR + WEEK + dt.timedelta(seconds=1)


def test_pyhanko_alone_stays_at_the_validation_time_and_fails(pki, without_override):
    """What failed the 25-year renewal test: the CRL issued after the expiry keeps the control
    time in year 3, where the certificate has expired."""
    crls = [pki.crl(T0 + YEAR), pki.crl(T0 + 3 * YEAR - WEEK)]
    assert pki.slide(crls) == LATER
    with pytest.raises(ValidationError, match="expired"):
        pki.past_validate(crls)


def test_only_data_from_after_the_expiry_is_no_revocation_status(pki):
    with pytest.raises(ValidationError) as failure:
        pki.past_validate([pki.crl(T0 + 3 * YEAR - WEEK)])
    assert "No revocation info" in str(failure.value.__cause__)


def test_a_revocation_reported_after_the_expiry_still_counts(pki):
    """A CRL from after the expiry that lists the certificate stays: the control time goes
    back to the revocation, as with pyHanko alone."""
    revoked_at = T0 + YEAR // 2
    crls = [pki.crl(T0 + YEAR), pki.crl(T0 + 3 * YEAR - WEEK, revoked_at=revoked_at)]
    assert pki.slide(crls) == revoked_at
    time_slide.ades_gather_prima_facie_revinfo = pyhanko_time_slide.upstream
    try:
        assert pki.slide(crls) == revoked_at
    finally:
        pyhanko_time_slide.install()
