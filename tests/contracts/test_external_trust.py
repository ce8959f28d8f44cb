"""Contracts signed with an external CA's certificate and stamped by a separate TSA (issue 13).

Both hierarchies run on loopback (tests/servers/external_pki.py) with their own OCSP responders
and CRLs; keiyaku is configured as an operator would: the signing key as a PKCS#12 file, the
TSA's URL, and both roots as trust roots. Finalising must fetch every chain's validation data
from the certificates' own URLs (through keiyaku's outbound client) and embed it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import crl, ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus, DocumentVersion, VersionKind
from keiyaku.contracts.services import signature_sweep
from keiyaku.pki.chains import ValidationDataUnavailable
from keiyaku.pki.service import get_authority
from keiyaku.signing import engine, keys
from keiyaku.signing.verdict import Outcome
from keiyaku.signing.verification import judge_pdf
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, completed_pdf, draft_contract, keiyaku_verify, last_link
from tests.outside import openssl_verify_timestamps, pdfsig, qpdf_check
from tests.servers.external_pki import ExternalCA, ExternalTSA, external_ca, external_tsa

pytestmark = pytest.mark.django_db(transaction=True)

FIRMS = (
    External("株式会社外部建設", "外部 一郎", "ichiro@gaibu.example.jp", "1111"),
    External("合同会社時刻", "時刻 花子", "hanako@jikoku.example.jp", "2222"),
)
ELEVEN_YEARS = dt.timedelta(days=11 * 366)
_PEM = serialization.Encoding.PEM
_SHA256 = hashes.SHA256()


@pytest.fixture(scope="module")
def hierarchies(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ExternalCA, ExternalTSA]]:
    folder = tmp_path_factory.mktemp("external-pki")
    with external_ca(folder / "ca") as ca, external_tsa(folder / "tsa") as tsa:
        yield ca, tsa


def _use_external(settings, ca: ExternalCA, tsa: ExternalTSA) -> None:
    """keiyaku configured with the external signer, TSA and roots, as docs/trust.md says."""
    settings.KEIYAKU_SIGNER_PKCS12 = str(ca.pkcs12_path)
    settings.KEIYAKU_SIGNER_PKCS12_PASSWORD = ca.pkcs12_password
    settings.KEIYAKU_TSA_URLS = [tsa.url]
    settings.KEIYAKU_TRUST_ROOTS = [str(ca.root_pem_path), str(tsa.root_pem_path)]
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the CA and TSA listen on loopback
    keys.get_service_signer.cache_clear()


@pytest.fixture
def external(hierarchies, settings) -> Iterator[tuple[ExternalCA, ExternalTSA]]:
    ca, tsa = hierarchies
    _use_external(settings, ca, tsa)
    yield ca, tsa
    ca.server.up()
    keys.get_service_signer.cache_clear()


def _dss(pdf: bytes) -> tuple[list[ocsp.OCSPResponse], list[crl.CertificateList]]:
    """The DSS's OCSP responses and CRLs, read with pikepdf (not with pyHanko)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        dss = doc.Root.DSS
        ocsps = [ocsp.OCSPResponse.load(bytes(s.read_bytes())) for s in dss.get("/OCSPs", [])]
        crls = [crl.CertificateList.load(bytes(s.read_bytes())) for s in dss.get("/CRLs", [])]
    return ocsps, crls


def _ocsp_issuers(responses: list[ocsp.OCSPResponse]) -> list[bytes]:
    """SHA-1 of the issuer name each OCSP response speaks about (RFC 6960 CertID)."""
    return [
        single["cert_id"]["issuer_name_hash"].native
        for response in responses
        for single in response.basic_ocsp_response["tbs_response_data"]["responses"]
    ]


def _name_hash(cert: asn1_x509.Certificate) -> bytes:
    return hashlib.sha1(cert.subject.dump()).digest()  # noqa: S324 - RFC 6960 CertID


def _asn1(cert) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@pytest.mark.slow(seconds=15)
def test_three_party_contract_completes_with_both_chains_in_the_dss(
    personas, external, tmp_path: Path
) -> None:
    ca, tsa = external
    pdf = completed_pdf(personas, FIRMS)

    # The DSS holds OCSP responses and CRLs of both chains, fetched from their servers.
    ocsps, crls = _dss(pdf)
    about = _ocsp_issuers(ocsps)
    assert _name_hash(_asn1(ca.intermediate.cert)) in about  # the signing certificate
    assert _name_hash(_asn1(tsa.root.cert)) in about  # the TSA certificate
    crl_issuers = {c["tbs_cert_list"]["issuer"].dump() for c in crls}
    assert _asn1(ca.intermediate.cert).subject.dump() in crl_issuers  # for the signer
    assert _asn1(ca.root.cert).subject.dump() in crl_issuers  # for the intermediate
    assert _asn1(tsa.root.cert).subject.dump() in crl_issuers  # for the TSA certificate
    fetched = set(ca.server.requests) | set(tsa.server.requests)
    assert {"GET /crl/ca.crl", "GET /crl/root.crl", "POST /ocsp/ca", "POST /ocsp/root"} <= fetched

    # AdES-LTA with local data only, trusting the two external roots alone: now and in 11 years.
    roots = [ca.root_asn1, tsa.root_asn1]
    now = engine.verify(pdf, trust_roots=roots)
    assert now.ok and now.ltv_ok, now
    assert len([s for s in now.signatures if s.kind == engine.SIGNATURE]) == 3
    later = engine.verify(pdf, trust_roots=roots, at=dt.datetime.now(dt.UTC) + ELEVEN_YEARS)
    assert later.simulated and later.ok and later.ltv_ok, later
    # The signing certificate (3 years) has expired by then: the DSS and timestamps carry it.
    assert ca.signer_cert.not_valid_after_utc < later.validated_at

    # keiyaku verify trusts the configured roots.
    path = tmp_path / "final.pdf"
    path.write_bytes(pdf)
    verified = keiyaku_verify(path)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Outside validators.
    results = pdfsig(pdf, trust_root_pem=ca.root.cert.public_bytes(_PEM))
    assert sum(not r["is_document_timestamp"] for r in results) == 3
    assert openssl_verify_timestamps(pdf, tsa.root.cert.public_bytes(_PEM), tsa.tsa_pem) == 4
    qpdf_check(pdf)


def _completed(contract) -> bool:
    contract.refresh_from_db()
    return contract.status == ContractStatus.COMPLETED


@pytest.mark.slow(seconds=6)
def test_no_completion_while_the_ca_revocation_server_is_down(personas, external) -> None:
    ca, _tsa = external
    firm = FIRMS[0]
    contract = draft_contract(personas.sender, externals=[firm])
    services.contract_send(contract=contract, actor=personas.sender)
    ca.server.down()
    agree(Client(), last_link(firm.email), firm.code)  # signed (B-T needs no revocation data)
    assert not _completed(contract)
    with pytest.raises(ValidationDataUnavailable, match="no OCSP answer"):
        services.contract_finalize(contract_id=contract.pk)
    assert not _completed(contract)
    completed = DocumentVersion.objects.filter(
        document__contract=contract, kind=VersionKind.COMPLETED
    )
    assert not completed.exists()

    ca.server.up()
    signature_sweep(older_than=dt.timedelta(0))
    assert _completed(contract) and completed.count() == 1
    assert engine.verify(blob_get(completed.get().blob), trust_roots=keys.get_trust_roots()).ltv_ok


@pytest.mark.slow(seconds=10)
def test_rotation_to_the_external_signer_keeps_old_contracts_verifiable(
    personas, hierarchies, settings, tmp_path: Path
) -> None:
    """Sapporo 7(7): a contract completed under keiyaku's own authority, and one whose first
    party signed before the switch and the second after, both verify after it."""
    ca, tsa = hierarchies
    earlier = draft_contract(personas.sender, externals=FIRMS[:1])
    services.contract_send(contract=earlier, actor=personas.sender)
    agree(Client(), last_link(FIRMS[0].email), FIRMS[0].code)
    assert _completed(earlier)
    old = blob_get(earlier.documents.get().current_version().blob)

    firm = External("有限会社途中", "途中 次郎", "jiro@tochu.example.jp", "3333")
    contract = draft_contract(personas.sender, externals=[firm], staff_signers=[personas.mayor])
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(firm.email), firm.code)  # under keiyaku's own authority
    try:
        _use_external(settings, ca, tsa)
        mayor = Client()
        mayor.force_login(personas.mayor)
        agree(mayor, last_link(personas.mayor.email))  # under the external certificate
        assert _completed(contract)
        mixed = blob_get(contract.documents.get().current_version().blob)

        later = dt.datetime.now(dt.UTC) + ELEVEN_YEARS
        report = engine.verify(mixed, trust_roots=keys.get_trust_roots(), at=later)
        assert report.ok and report.ltv_ok, report
        signers = {s.signer_cert_sha256 for s in report.signatures if s.kind == engine.SIGNATURE}
        assert signers == {
            get_authority().signer_cert.sha256.hex(),
            ca.signer_cert.fingerprint(_SHA256).hex(),
        }
        # `keiyaku verify` (the roots and signing certificates as configured now) accepts both.
        for name, pdf in (("old", old), ("mixed", mixed)):
            path = tmp_path / f"{name}.pdf"
            path.write_bytes(pdf)
            verified = keiyaku_verify(path)
            assert verified.returncode == 0, (name, verified.stdout, verified.stderr)
        # The about-trust page shows the new chain.
        page = Client().get("/trust/").content.decode()
        for cert in (ca.signer_cert, ca.intermediate.cert, ca.root.cert):
            digest = cert.fingerprint(_SHA256).hex().upper()
            assert ":".join(digest[i : i + 2] for i in range(0, 64, 2)) in page
            assert _asn1(cert).subject.human_friendly in page
        # Rotated again (here back to keiyaku's own key): the document signed in part under the
        # external certificate is still judged concluded on this keiyaku, not "other signer".
        settings.KEIYAKU_SIGNER_PKCS12 = ""
        keys.get_service_signer.cache_clear()
        assert keys.get_service_signer().cert.sha256 != _asn1(ca.signer_cert).sha256
        assert judge_pdf(mixed).outcome == Outcome.CONCLUDED
    finally:
        keys.get_service_signer.cache_clear()
