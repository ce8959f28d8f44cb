"""Verifying keiyaku's PDFs: every signature and document timestamp, and PAdES B-LTA.

Knows nothing of Django. Nothing is fetched from the network: trust roots and any fresh
revocation data are given by the caller.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from asn1crypto import cms, crl, ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffPolicy
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    ades,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from keiyaku.signing.aio import run_sync as _run

SIGNATURE = "signature"
DOCUMENT_TIMESTAMP = "document_timestamp"
# Validation times further ahead than this count as a simulated future validation.
_FUTURE_SLACK = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SignatureReport:
    """What a validator concluded about one signature or document timestamp."""

    field_name: str
    kind: str
    """:data:`SIGNATURE` or :data:`DOCUMENT_TIMESTAMP`."""
    signer: str | None
    """Subject of the signing (or TSA) certificate, human-readable."""
    signer_cert_sha256: str | None
    """SHA-256 of that certificate (DER, hex): who made it, beyond a name anyone can copy."""
    reason: str | None
    signing_time: dt.datetime | None
    """The time the signer claims (/M); not proof of anything."""
    timestamp_time: dt.datetime | None
    """genTime of the signature timestamp, or of the document timestamp itself."""
    intact: bool
    """The signed bytes hash to the signed digest."""
    valid: bool
    """The cryptographic signature over that digest verifies."""
    trusted: bool
    """The certificate chains to a trust root and was not revoked, judged at
    ``timestamp_time`` (when the signature provably existed) with the revocation data the
    document carries (missing revocation data is tolerated here, not for ``ltv``)."""
    timestamp_ok: bool | None
    """The signature timestamp is intact, valid and trusted; ``None`` when there is none."""
    coverage: str | None
    """``ENTIRE_FILE``: nothing follows; ``ENTIRE_REVISION``: later revisions exist."""
    modification_level: str | None
    """Worst kind of change in later revisions (``NONE``, ``LTA_UPDATES``, ``FORM_FILLING``...)."""
    docmdp_ok: bool | None
    bottom_line: bool
    """pyHanko's overall judgement for this item alone."""
    ltv: bool | None
    """PAdES-LTA validation with the document's own data only (signatures only)."""
    ltv_detail: str | None
    error: str | None = None


@dataclass(frozen=True)
class VerificationReport:
    """The verdict on a whole document.

    ``ok`` holds only if every item is intact, valid and trusted, its timestamp (if any) too,
    later changes are no worse than form filling, and nothing follows the last signature or
    timestamp. For a simulated future validation, ``ltv_ok`` is required as well: by then
    trust rests on the archive timestamps alone.
    """

    ok: bool
    ltv_ok: bool
    """Every signature passes PAdES-LTA validation with local data, and a document timestamp
    covers them all (B-LTA)."""
    untampered: bool
    """Trust aside: there is at least one item, every item is intact with a valid signature,
    later revisions stay within what each permits, and nothing follows the last one."""
    validated_at: dt.datetime
    simulated: bool
    """``validated_at`` lies in the future: pyHanko's simulation, assuming the archive
    timestamps are renewed in time."""
    signatures: tuple[SignatureReport, ...] = ()
    error: str | None = None
    readable: bool = True
    """The file could be read as a PDF (False: not a PDF, or too damaged to parse)."""

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values: times in ISO 8601, signatures as a list of dicts.

        Built field by field rather than with ``dataclasses.asdict``, whose deep copy would
        follow any PDF object that slipped in back to the whole parsed document.
        """

        def plain(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                return value.isoformat()
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            if dataclasses.is_dataclass(value):
                return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
            if isinstance(value, str):
                return str(value)
            return value

        return plain(self)  # type: ignore[no-any-return]


def verify(
    pdf: bytes,
    *,
    trust_roots: Sequence[asn1_x509.Certificate],
    at: dt.datetime | None = None,
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
) -> VerificationReport:
    """Validate every signature and document timestamp in ``pdf``; never raises on bad input.

    Nothing is fetched from the network. ``crls``/``ocsps`` (DER) add revocation data the
    document lacks, e.g. fresh answers for the last timestamp's TSA. ``at`` validates at
    another moment; a future one runs pyHanko's simulated future LTA validation.
    """
    now = _now()
    when = at or now
    simulated = at is not None and at > now + _FUTURE_SLACK
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
        for sig in embedded:
            _integrity_once(sig)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a verdict, not a crash
        return VerificationReport(
            ok=False,
            ltv_ok=False,
            untampered=False,
            validated_at=when,
            simulated=simulated,
            error=f"unreadable PDF: {exc}",
            readable=False,
        )
    if not embedded:
        return VerificationReport(
            ok=False,
            ltv_ok=False,
            untampered=False,
            validated_at=when,
            simulated=simulated,
            error="the document has no signature",
        )
    context = _VerifyContext(
        reader=reader,
        trust_roots=list(trust_roots),
        crls=list(crls),
        ocsps=list(ocsps),
        at=at,
        simulated=simulated,
    )
    items = tuple(_run(_verify_all(embedded, context)))
    return _verdict(items, validated_at=when, simulated=simulated)


def _integrity_once(sig: EmbeddedPdfSignature) -> None:
    """Have pyHanko check ``sig``'s integrity (digest, coverage, difference analysis of every
    later revision) once per document rather than at every request.

    pyHanko recomputes it whenever a validation asks, and each signature's PAdES-LTA validation
    asks for every document timestamp and content timestamp of the file (to index their proof
    of existence): n signatures cost about n² difference analyses, each over every later
    revision. The document does not change while it is verified, so the first result stands:
    a later call with the same difference policy (or one that skips the analysis) keeps it.
    """
    compute = sig.compute_integrity_info
    done: set[int | None] = set()  # id() of each policy analysed with; None: skipped

    def once(diff_policy: DiffPolicy | None = None, skip_diff: bool = False) -> None:
        policy = None if skip_diff else id(diff_policy or DEFAULT_DIFF_POLICY)
        if policy in done or (policy is None and done):
            return
        compute(diff_policy, skip_diff)
        done.add(policy)

    sig.compute_integrity_info = once  # type: ignore[method-assign]


def verify_der(
    pdf: bytes,
    *,
    trust_roots: Sequence[bytes],
    at: dt.datetime | None = None,
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
) -> VerificationReport:
    """:func:`verify` with the trust roots as DER certificates: what a validation child of
    ``keiyaku.signing.budget`` is given (plain bytes pickle cheaply and need no Django)."""
    roots = [asn1_x509.Certificate.load(der) for der in trust_roots]
    return verify(pdf, trust_roots=roots, at=at, crls=crls, ocsps=ocsps)


@dataclass
class _VerifyContext:
    reader: PdfFileReader
    trust_roots: list[asn1_x509.Certificate]
    crls: list[bytes]
    ocsps: list[bytes]
    at: dt.datetime | None
    simulated: bool

    def validation_context(self, moment: dt.datetime | None) -> ValidationContext:
        """Trust roots plus everything the document's DSS carries, fixed at ``moment``."""
        kwargs: dict[str, Any] = {
            "trust_roots": self.trust_roots,
            "allow_fetching": False,
            "moment": moment,
            "crls": self.crls,
            "ocsps": self.ocsps,
            # Revocation data issued after ``moment`` (the DSS is filled after signing)
            # still vouches for it: a certificate reported good later was good then.
            "retroactive_revinfo": True,
        }
        try:
            dss = DocumentSecurityStore.read_dss(self.reader)
        except NoDSSFoundError:
            return ValidationContext(**kwargs)
        return dss.as_validation_context(kwargs)

    def lta_spec(self) -> PdfSignatureValidationSpec:
        knowledge = LocalKnowledge(
            known_crls=[CRLContainer(crl.CertificateList.load(der)) for der in self.crls],
            known_ocsps=[OCSPContainer(ocsp.OCSPResponse.load(der)) for der in self.ocsps],
        )
        return PdfSignatureValidationSpec(
            SignatureValidationSpec(
                cert_validation_policy=CertValidationPolicySpec(
                    trust_manager=SimpleTrustManager.build(trust_roots=self.trust_roots),
                    revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
                ),
                revinfo_gathering_policy=RevocationInfoGatheringSpec(
                    RevinfoOnlineFetchingRule.LOCAL_ONLY
                ),
                local_knowledge=knowledge,
            )
        )


async def _verify_all(
    embedded: Sequence[EmbeddedPdfSignature], context: _VerifyContext
) -> list[SignatureReport]:
    reports = []
    for sig in embedded:
        try:
            reports.append(await _verify_one(sig, context))
        except Exception as exc:  # noqa: BLE001 - a damaged signature is a verdict
            reports.append(_broken(sig, f"cannot be validated: {exc}"))
    return reports


async def _verify_one(sig: EmbeddedPdfSignature, context: _VerifyContext) -> SignatureReport:
    is_timestamp = sig.sig_object_type == "/DocTimeStamp"
    ts_time: dt.datetime | None
    if is_timestamp:
        ts_time = _gen_time(sig.signed_data)
        status: Any = await async_validate_pdf_timestamp(
            sig, validation_context=context.validation_context(ts_time)
        )
        timestamp_ok = None
    else:
        tokens = list(extract_tst_data_iter(sig.signer_info, signed=False))
        ts_time = _gen_time(tokens[0]) if tokens else None
        vc = context.validation_context(ts_time)
        status = await async_validate_pdf_signature(
            sig, signer_validation_context=vc, ts_validation_context=vc
        )
        ts_status = status.timestamp_validity
        timestamp_ok = (
            None
            if ts_status is None
            else ts_status.intact and ts_status.valid and ts_status.trusted
        )
    ltv, ltv_detail = (None, None) if is_timestamp else await _ltv(sig, context)
    level = status.modification_level
    return SignatureReport(
        field_name=str(sig.field_name),  # a pyHanko string holds its whole document
        kind=DOCUMENT_TIMESTAMP if is_timestamp else SIGNATURE,
        signer=sig.signer_cert.subject.human_friendly,
        signer_cert_sha256=sig.signer_cert.sha256.hex(),
        reason=_text(sig.sig_object.get("/Reason")),
        signing_time=None if is_timestamp else sig.self_reported_timestamp,
        timestamp_time=ts_time,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        timestamp_ok=timestamp_ok,
        coverage=status.coverage.name if status.coverage is not None else None,
        modification_level=level.name if level is not None else None,
        docmdp_ok=status.docmdp_ok,
        bottom_line=(
            status.intact and status.valid and status.trusted
            if is_timestamp
            else status.bottom_line
        ),
        ltv=ltv,
        ltv_detail=ltv_detail,
    )


async def _ltv(sig: EmbeddedPdfSignature, context: _VerifyContext) -> tuple[bool, str]:
    spec = context.lta_spec()
    if context.simulated:
        assert context.at is not None  # noqa: S101 - simulated implies at
        result = await ades.simulate_future_ades_lta_validation(
            sig, spec, future_validation_time=context.at
        )
    else:
        timing = None
        if context.at is not None:
            timing = ValidationTimingInfo(
                validation_time=context.at,
                best_signature_time=context.at,
                point_in_time_validation=True,
            )
        result = await ades.ades_lta_validation(sig, spec, timing_info=timing)
    passed = result.ades_subindic == AdESPassed.OK
    detail = getattr(result.ades_subindic, "name", str(result.ades_subindic))
    if not passed and result.failure_msg:
        detail = f"{detail}: {result.failure_msg}"
    return passed, detail


# Later changes a signature tolerates: none, validation data, filling in the other fields.
_PERMITTED_LEVELS = (None, "NONE", "LTA_UPDATES", "FORM_FILLING")


def _verdict(
    items: tuple[SignatureReport, ...], *, validated_at: dt.datetime, simulated: bool
) -> VerificationReport:
    problems = []
    untampered = bool(items)
    for item in items:
        if item.error:
            problems.append(f"{item.field_name}: {item.error}")
            untampered = False
            continue
        # (holds, what fails, whether the document itself is damaged rather than untrusted)
        checks = (
            (item.intact, "modified after signing (not intact)", True),
            (item.valid, "invalid signature", True),
            (item.trusted, "not trusted", False),
            (item.timestamp_ok is not False, "invalid signature timestamp", False),
            (item.docmdp_ok is not False, "changes not permitted by the certification", True),
            (
                item.modification_level in _PERMITTED_LEVELS,
                f"later changes beyond form filling ({item.modification_level})",
                True,
            ),
        )
        # The first failure is the cause; the rest follow from it (not intact => not trusted).
        failed = next((what for good, what, _ in checks if not good), None)
        if failed:
            problems.append(f"{item.field_name}: {failed}")
        if any(damage and not good for good, _, damage in checks):
            untampered = False
    if items and items[-1].coverage != "ENTIRE_FILE":
        problems.append("the document was changed after the last signature or timestamp")
        untampered = False
    signatures = [i for i in items if i.kind == SIGNATURE]
    last_signature = max(
        (n for n, i in enumerate(items) if i.kind == SIGNATURE), default=len(items)
    )
    has_archive_ts = any(i.kind == DOCUMENT_TIMESTAMP for i in items[last_signature + 1 :])
    ltv_ok = bool(signatures) and has_archive_ts and all(i.ltv for i in signatures)
    if simulated and not ltv_ok:
        problems.append("long-term validation fails at " + validated_at.isoformat())
    return VerificationReport(
        ok=not problems,
        ltv_ok=ltv_ok,
        untampered=untampered,
        validated_at=validated_at,
        simulated=simulated,
        signatures=items,
        error="; ".join(problems) or None,
    )


def _broken(sig: EmbeddedPdfSignature, error: str) -> SignatureReport:
    try:
        name = str(sig.field_name)
        kind = DOCUMENT_TIMESTAMP if sig.sig_object_type == "/DocTimeStamp" else SIGNATURE
    except Exception:  # noqa: BLE001 - reporting on a damaged object
        name, kind = "?", SIGNATURE
    return SignatureReport(
        field_name=name,
        kind=kind,
        signer=None,
        signer_cert_sha256=None,
        reason=None,
        signing_time=None,
        timestamp_time=None,
        intact=False,
        valid=False,
        trusted=False,
        timestamp_ok=None,
        coverage=None,
        modification_level=None,
        docmdp_ok=None,
        bottom_line=False,
        ltv=False,
        ltv_detail=None,
        error=error,
    )


def _gen_time(signed_data: cms.SignedData) -> dt.datetime:
    return signed_data["encap_content_info"]["content"].parsed["gen_time"].native


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
