"""The signing engine end to end, judged by pyHanko's validators and by outside tools."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import ades, validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from keiyaku.pki import revocation, tsa
from keiyaku.pki.authority import Authority
from keiyaku.signing import engine
from tests.fixtures_pki import SignedContract
from tests.outside import openssl_verify_timestamps, pdfsig, qpdf_check
from tests.pdfs import make_pdf, make_signed_pdf


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(pdf))


def _offline_lta_spec(authority: Authority) -> PdfSignatureValidationSpec:
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=[authority.root_cert]),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )


def _dead_url() -> str:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


# --- the three-party contract (fixture in tests/fixtures_pki.py) ------------------------------


def test_every_signature_is_intact_valid_and_trusted(
    signed_contract: SignedContract, authority: Authority
) -> None:
    reader = _reader(signed_contract.final)
    context = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [authority.root_cert], "allow_fetching": False}
    )
    regular = reader.embedded_regular_signatures
    assert [s.field_name for s in regular] == list(signed_contract.field_names)
    for sig in regular:
        status = validate_pdf_signature(sig, context)
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted
        assert status.bottom_line
        assert status.modification_level <= ModificationLevel.FORM_FILLING
        assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        assert status.md_algorithm == "sha256"
        assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    [timestamp] = reader.embedded_timestamp_signatures
    ts_status = validate_pdf_timestamp(timestamp, validation_context=context)
    assert ts_status.intact and ts_status.valid and ts_status.trusted
    assert ts_status.coverage == SignatureCoverageLevel.ENTIRE_FILE


def test_reason_location_and_contact_are_recorded(signed_contract: SignedContract) -> None:
    for sig, reason in zip(
        _reader(signed_contract.final).embedded_regular_signatures,
        signed_contract.reasons,
        strict=True,
    ):
        assert sig.sig_object["/Reason"] == reason
        assert sig.sig_object["/Location"] == "日本"
        assert "@" in sig.sig_object["/ContactInfo"]


def test_b_lta_validates_with_local_data_only(
    signed_contract: SignedContract, authority: Authority
) -> None:
    spec = _offline_lta_spec(authority)
    for sig in _reader(signed_contract.final).embedded_regular_signatures:
        result = asyncio.run(ades.ades_lta_validation(sig, spec))
        assert result.ades_subindic == AdESPassed.OK, result.failure_msg
        assert result.oldest_evidence_record_timestamp is not None


def test_simulated_validation_eleven_years_later_passes(
    signed_contract: SignedContract, authority: Authority
) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=11 * 366)
    spec = _offline_lta_spec(authority)
    for sig in _reader(signed_contract.final).embedded_regular_signatures:
        # By then the signing certificate (5 years) has long expired.
        assert sig.signer_cert.not_valid_after < later
        result = asyncio.run(
            ades.simulate_future_ades_lta_validation(sig, spec, future_validation_time=later)
        )
        assert result.ades_subindic == AdESPassed.OK, result.failure_msg


def test_pdfsig_finds_every_signature_valid(
    signed_contract: SignedContract, authority: Authority
) -> None:
    results = pdfsig(signed_contract.final, trust_root_pem=authority.root_pem())
    names = [r["field_name"] for r in results]
    assert names == [*signed_contract.field_names, "keiyaku-timestamp-01"]
    assert [r["type"] for r in results[:3]] == ["ETSI.CAdES.detached"] * 3
    assert all(r["hash"] == "SHA-256" for r in results[:3])
    assert results[-1]["is_document_timestamp"] and results[-1]["total_document_signed"]


def test_openssl_verifies_every_timestamp_token(
    signed_contract: SignedContract, authority: Authority
) -> None:
    # Three signature timestamps and the document timestamp.
    assert (
        openssl_verify_timestamps(
            signed_contract.final, authority.root_pem(), authority.tsa_cert.dump()
        )
        == len(signed_contract.field_names) + 1
    )


def test_qpdf_finds_every_stage_clean(signed_contract: SignedContract) -> None:
    for pdf in (signed_contract.prepared, *signed_contract.signed, signed_contract.final):
        qpdf_check(pdf)


def test_every_step_only_appends(signed_contract: SignedContract) -> None:
    stages = [signed_contract.prepared, *signed_contract.signed, signed_contract.final]
    for before, after in zip(stages, stages[1:], strict=False):
        assert after.startswith(before)
        assert _reader(after).total_revisions == _reader(before).total_revisions + 1


def test_finalize_fills_the_dss(signed_contract: SignedContract) -> None:
    dss = DocumentSecurityStore.read_dss(_reader(signed_contract.final))
    assert dss.crls and len(dss.ocsps) >= 2 and len(list(dss.load_certs())) >= 3


def test_renew_adds_an_archive_timestamp(
    signed_contract: SignedContract, authority: Authority, tsa_url: str
) -> None:
    renewed = engine.renew(
        signed_contract.final,
        timestamper=engine.make_timestamper([tsa_url]),
        validation_context=revocation.validation_context(authority),
    )
    assert renewed.startswith(signed_contract.final)
    reader = _reader(renewed)
    assert [t.field_name for t in reader.embedded_timestamp_signatures] == [
        "keiyaku-timestamp-01",
        "keiyaku-timestamp-02",
    ]
    report = engine.verify(renewed, trust_roots=[authority.root_cert])
    assert report.ok and report.ltv_ok, report.as_dict()
    assert openssl_verify_timestamps(renewed, authority.root_pem(), authority.tsa_cert.dump()) == 5
    qpdf_check(renewed)


# --- preparing --------------------------------------------------------------------------------


def test_prepare_adds_empty_fields_and_signs_nothing() -> None:
    names = ["keiyaku-party-01", "keiyaku-party-02"]
    prepared = engine.prepare(make_pdf(), field_names=names)
    reader = _reader(prepared)
    assert not reader.embedded_signatures
    fields = reader.root["/AcroForm"]["/Fields"]
    assert [f.get_object()["/T"] for f in fields] == names
    assert all("/V" not in f.get_object() for f in fields)


@pytest.mark.parametrize(
    "names", [[], ["a", "a"], ["has.dot"], ["x" * 65], ["スペース 名"]], ids=repr
)
def test_prepare_refuses_bad_field_names(names: list[str]) -> None:
    with pytest.raises(ValueError):
        engine.prepare(make_pdf(), field_names=names)


def test_prepare_refuses_a_signed_document() -> None:
    with pytest.raises(ValueError, match="already signed"):
        engine.prepare(make_signed_pdf(), field_names=["keiyaku-party-01"])


def test_prepare_refuses_an_existing_field() -> None:
    once = engine.prepare(make_pdf(), field_names=["keiyaku-party-01"])
    with pytest.raises(ValueError, match="already present"):
        engine.prepare(once, field_names=["keiyaku-party-01"])


# --- signing ----------------------------------------------------------------------------------


def test_signing_needs_the_prepared_empty_field(
    signed_contract: SignedContract, service_signer: engine.ServiceSigner, tsa_url: str
) -> None:
    timestamper = engine.make_timestamper([tsa_url])
    with pytest.raises(ValueError, match="no signature field"):
        engine.sign_agreement(
            signed_contract.prepared,
            field_name="keiyaku-party-99",
            reason="x",
            signer=service_signer,
            timestamper=timestamper,
        )
    with pytest.raises(ValueError, match="already signed"):
        engine.sign_agreement(
            signed_contract.signed[0],
            field_name="keiyaku-party-01",
            reason="x",
            signer=service_signer,
            timestamper=timestamper,
        )


def test_tsa_down_means_no_signature(
    signed_contract: SignedContract, service_signer: engine.ServiceSigner, authority: Authority
) -> None:
    timestamper = engine.make_timestamper([_dead_url(), _dead_url()], timeout=2)
    with pytest.raises(engine.TimestampUnavailable):
        engine.sign_agreement(
            signed_contract.prepared,
            field_name="keiyaku-party-01",
            reason="x",
            signer=service_signer,
            timestamper=timestamper,
        )
    with pytest.raises(engine.TimestampUnavailable):
        engine.finalize(
            signed_contract.signed[-1],
            timestamper=timestamper,
            validation_context=revocation.validation_context(authority),
        )


def test_the_next_tsa_is_tried(
    signed_contract: SignedContract,
    service_signer: engine.ServiceSigner,
    tsa_url: str,
    authority: Authority,
) -> None:
    pdf = engine.sign_agreement(
        signed_contract.prepared,
        field_name="keiyaku-party-01",
        reason="x",
        signer=service_signer,
        timestamper=engine.make_timestamper([_dead_url(), tsa_url]),
    )
    report = engine.verify(pdf, trust_roots=[authority.root_cert])
    assert report.ok and report.signatures[0].timestamp_ok, report.as_dict()


class _LyingTsa(BaseHTTPRequestHandler):
    """Grants a real token, but for a digest it was not asked about."""

    authority: Authority

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        forged = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": bytes(32),
                },
                "nonce": request["nonce"],
                "cert_req": True,
            }
        )
        body = tsa.respond(forged.dump(), authority=self.authority)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def lying_tsa_url(authority: Authority) -> Iterator[str]:
    handler = type("Handler", (_LyingTsa,), {"authority": authority})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()
    server.server_close()


def test_a_token_for_another_digest_is_refused(
    signed_contract: SignedContract, service_signer: engine.ServiceSigner, lying_tsa_url: str
) -> None:
    with pytest.raises(engine.TimestampUnavailable, match="different digest"):
        engine.sign_agreement(
            signed_contract.prepared,
            field_name="keiyaku-party-01",
            reason="x",
            signer=service_signer,
            timestamper=engine.make_timestamper([lying_tsa_url]),
        )


def test_reservation_grows_when_a_token_does_not_fit(
    signed_contract: SignedContract, authority: Authority, tsa_url: str
) -> None:
    signer = engine.ServiceSigner.from_authority(authority)
    signer.bytes_reserved = 2 * 1024  # far too small for certificates plus a token
    pdf = engine.sign_agreement(
        signed_contract.prepared,
        field_name="keiyaku-party-01",
        reason="x",
        signer=signer,
        timestamper=engine.make_timestamper([tsa_url]),
    )
    assert signer.bytes_reserved > 12 * 1024  # what the signature needed, with a margin
    assert engine.verify(pdf, trust_roots=[authority.root_cert]).ok


def test_signer_from_pkcs12(
    signed_contract: SignedContract, authority: Authority, tsa_url: str, tmp_path: Path
) -> None:
    from cryptography import x509

    key = serialization.load_der_private_key(authority.signer_key.dump(), password=None)
    bundle = pkcs12.serialize_key_and_certificates(
        b"signer",
        key,  # type: ignore[arg-type]
        x509.load_der_x509_certificate(authority.signer_cert.dump()),
        [x509.load_der_x509_certificate(authority.root_cert.dump())],
        serialization.BestAvailableEncryption(b"p12-secret"),
    )
    (tmp_path / "signer.p12").write_bytes(bundle)
    signer = engine.ServiceSigner.from_pkcs12(tmp_path / "signer.p12", "p12-secret")
    assert signer.cert.dump() == authority.signer_cert.dump()
    pdf = engine.sign_agreement(
        signed_contract.prepared,
        field_name="keiyaku-party-02",
        reason="x",
        signer=signer,
        timestamper=engine.make_timestamper([tsa_url]),
    )
    assert engine.verify(pdf, trust_roots=[authority.root_cert]).ok
