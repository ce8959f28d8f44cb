"""The PDF signing engine: bytes and a signer in, bytes out. Knows nothing of Django.

Witness model: keiyaku signs every party's agreement into the PDF with the service's own key,
each with an RFC 3161 signature timestamp (PAdES B-T), and closes a completed contract with
validation data and a document timestamp (PAdES B-LTA).

Invariants:
- Every operation appends exactly one incremental revision to the bytes it is given, through a
  fresh ``IncrementalPdfFileWriter``; earlier revisions (and so earlier signatures) are never
  rewritten.
- No signature is ever produced without a timestamp token: when no TSA answers,
  :class:`TimestampUnavailable` is raised and nothing is returned.
- Every function here calls ``asyncio.run``: call them from synchronous code (views, tasks),
  never from inside a running event loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper, TimestampDSSContentSettings
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    collect_validation_info,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

if TYPE_CHECKING:
    from keiyaku.pki.authority import Authority
    from keiyaku.signing.hsm import Pkcs11Config

from keiyaku.signing.aio import run_sync as _run
from keiyaku.signing.boxes import BoxOverflow, BoxSpec, add_box_fields, fill_box_fields
from keiyaku.signing.timestamping import FailoverTimeStamper, TimestampUnavailable, TsaEndpoint

__all__ = [
    "DOCUMENT_TIMESTAMP",
    "SIGNATURE",
    "BoxOverflow",
    "BoxSpec",
    "ServiceSigner",
    "SigningKeyMismatch",
    "computations",
    "SignatureReport",
    "TimestampUnavailable",
    "ValidationInputs",
    "VerificationReport",
    "finalize",
    "make_timestamper",
    "prepare",
    "renew",
    "sign_agreement",
    "timestamp_document",
    "verify",
]

MD_ALGORITHM = "sha256"
# Room left in each signature for the TSA's token. Tokens from keiyaku's TSA are ~2 KB;
# commercial TSAs that ship a three-certificate chain stay well below 8 KB.
_TIMESTAMP_ALLOWANCE = 8 * 1024
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

logger = logging.getLogger(__name__)

_counted = {"signature": 0, "document_timestamp": 0}
_counted_lock = threading.Lock()


def _count(kind: str, field_name: str) -> None:
    """One more signature (or document timestamp) computed in this process: counted, and
    logged at INFO ("computed signature <field> (#n in this process)"), so that a test or an
    operator can count what separate worker processes computed (issue 12: parallel signers
    must not sign twice)."""
    with _counted_lock:
        _counted[kind] += 1
        number = _counted[kind]
    logger.info("computed %s %s (#%d in this process)", kind, field_name, number)


def computations() -> dict[str, int]:
    """How many signatures (``"signature"``) and document timestamps
    (``"document_timestamp"``) this process has computed: each one a cryptographic signature
    and a TSA request that ended in a PDF revision returned to a caller."""
    with _counted_lock:
        return dict(_counted)


class SigningKeyMismatch(ValueError):
    """The signing key does not belong to the configured certificate (its signatures would not
    verify with the certificate's public key)."""


class ServiceSigner:
    """The service's signing identity, loaded once per process.

    Wraps a pyHanko ``Signer`` whose private key is parsed once and kept (stock
    ``SimpleSigner`` re-parses the key for every signature) and whose signature mechanism is
    fixed, so that together with a fixed space reservation no dry-run signature is needed.
    """

    def __init__(self, signer: signers.Signer) -> None:
        if signer.signing_cert is None:
            raise ValueError("the signer must carry its certificate")
        self.signer = signer
        certs = [c for c in signer.cert_registry]
        # Hex-encoded in the PDF, hence twice the DER size. The CMS holds the certificates,
        # the signature, the signed attributes (~1 KB) and the timestamp token.
        der_estimate = sum(len(c.dump()) for c in certs) + 1024 + 512 + _TIMESTAMP_ALLOWANCE
        self.bytes_reserved = 2 * der_estimate

    @property
    def cert(self) -> asn1_x509.Certificate:
        cert = self.signer.signing_cert
        assert cert is not None  # noqa: S101 - checked in __init__
        return cert

    @classmethod
    def from_key(
        cls,
        *,
        cert: asn1_x509.Certificate,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        chain: Sequence[asn1_x509.Certificate] = (),
    ) -> ServiceSigner:
        return cls(_LoadedKeySigner(cert=cert, key=key, chain=chain))

    @classmethod
    def from_authority(cls, authority: Authority) -> ServiceSigner:
        """From keiyaku's own authority: its signing certificate, key and root."""
        key = authority.private_key("signer")
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError("the authority's signing key must be RSA or EC")
        return cls.from_key(cert=authority.signer_cert, key=key, chain=[authority.root_cert])

    @classmethod
    def from_pkcs11(cls, config: Pkcs11Config) -> ServiceSigner:
        """From a key in a PKCS#11 token (an HSM); see ``keiyaku.signing.hsm``. Raises
        python-pkcs11's ``PKCS11Error`` or ``SigningKeyUnavailable`` when the token cannot be
        reached and the certificate is to be read from it."""
        from keiyaku.signing.hsm import Pkcs11KeySigner

        return cls(Pkcs11KeySigner(config))

    def self_test(self) -> None:
        """Sign a fixed challenge and check it with the certificate's public key: the key can
        be used (an HSM answers, a PIN is right) and belongs to the certificate.

        Raises :class:`SigningKeyMismatch` when the signature does not verify, and whatever the
        back end raises when it cannot sign (``SigningKeyUnavailable`` for an HSM).
        """
        challenge = b"keiyaku: does the signing key belong to the certificate?"
        signature = _run(self.signer.async_sign_raw(challenge, MD_ALGORITHM))
        public = serialization.load_der_public_key(self.cert.public_key.dump())
        try:
            if isinstance(public, rsa.RSAPublicKey):
                public.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
            elif isinstance(public, ec.EllipticCurvePublicKey):
                public.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
            else:
                raise SigningKeyMismatch("the certificate's key is neither RSA nor EC")
        except InvalidSignature:
            raise SigningKeyMismatch(
                "the signing key does not match the certificate's public key"
            ) from None

    @classmethod
    def from_pkcs12(cls, path: str | Path, password: str | bytes | None) -> ServiceSigner:
        """From a PKCS#12 file holding the key, its certificate and (optionally) the chain."""
        if isinstance(password, str):
            password = password.encode()
        key, cert, extra = pkcs12.load_key_and_certificates(Path(path).read_bytes(), password)
        if cert is None or not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path}: needs an RSA or EC key with its certificate")
        return cls.from_key(
            cert=_to_asn1(cert.public_bytes(serialization.Encoding.DER)),
            key=key,
            chain=[_to_asn1(c.public_bytes(serialization.Encoding.DER)) for c in extra],
        )


class _LoadedKeySigner(signers.Signer):
    """A pyHanko signer around an already parsed ``cryptography`` key."""

    def __init__(
        self,
        *,
        cert: asn1_x509.Certificate,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        chain: Sequence[asn1_x509.Certificate],
    ) -> None:
        if isinstance(key, rsa.RSAPrivateKey):
            mechanism = f"{MD_ALGORITHM}_rsa"
        else:
            mechanism = f"{MD_ALGORITHM}_ecdsa"
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs([cert, *chain]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": mechanism}),
        )
        self._key = key

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if digest_algorithm != MD_ALGORITHM:
            raise SigningError(f"this signer is fixed to {MD_ALGORITHM}")
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))


def make_timestamper(
    urls: Sequence[str],
    *,
    timeout: float = 10,
    headers: Mapping[str, Mapping[str, str]] | None = None,
    endpoints: Sequence[TsaEndpoint] = (),
    trust_roots: Sequence[asn1_x509.Certificate] | None = None,
) -> FailoverTimeStamper:
    """A timestamper trying each TSA in order; raises TimestampUnavailable if none works.

    ``urls`` are plain RFC 3161 URLs; ``endpoints`` (tried after them) carry credentials
    (``keiyaku.signing.timestamping.TsaEndpoint``). ``headers`` maps a URL to extra HTTP
    headers sent to it alone. ``timeout`` is seconds per TSA. Each token is checked by
    ``timestamping.token_check`` against ``trust_roots`` (``None``: no chain check, for tests
    of the engine alone; keiyaku's processes pass them, ``keys.get_timestamper``).
    """
    extra = headers or {}
    every = [TsaEndpoint(url, headers=dict(extra.get(url) or {})) for url in urls]
    every += list(endpoints)
    if not every:
        raise ValueError("at least one TSA URL is required")
    return FailoverTimeStamper(every, timeout=timeout, trust_roots=trust_roots)


@contextmanager
def _revision(pdf: bytes) -> Iterator[tuple[IncrementalPdfFileWriter, BytesIO]]:
    """A writer over ``pdf`` and the stream its new revision is written to, both streams closed
    at the end. pyHanko's reader, writer and signer refer to each other in cycles, which keep
    their streams (the whole PDF in, and the whole PDF out) alive until Python's cyclic
    collector runs, which in a busy process is many files later: a closed stream holds nothing
    (issue 12: the worker's resident memory grew by a 50 MB PDF or two per contract)."""
    source, out = BytesIO(pdf), BytesIO()
    try:
        yield IncrementalPdfFileWriter(source), out
    finally:
        source.close()
        out.close()


def prepare(pdf: bytes, *, field_names: Sequence[str], boxes: Sequence[BoxSpec] = ()) -> bytes:
    """Add one invisible, empty signature field per name and one read-only form field per box
    (one revision); nothing is signed.

    Every field must exist before the first signature: a field added after a signature counts
    as a modification of the signed document. Boxes are filled later, each in the revision of
    the signature of the party who fills it (``sign_agreement(fill=...)``).
    """
    if len(set(field_names)) != len(field_names) or not field_names:
        raise ValueError("field names must be unique and at least one")
    if set(field_names) & {box.name for box in boxes}:
        raise ValueError("a box cannot share its name with a signature field")
    for name in field_names:
        if not _FIELD_NAME.match(name):
            raise ValueError(f"invalid field name {name!r}")
    with _revision(pdf) as (writer, out):
        if writer.prev.embedded_signatures:
            raise ValueError("the document is already signed")
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
        if existing & set(field_names):
            raise ValueError(f"fields already present: {sorted(existing & set(field_names))}")
        for name in field_names:
            fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name=name))
        if boxes:
            add_box_fields(writer, boxes)
        writer.write(out)
        return out.getvalue()


def sign_agreement(
    pdf: bytes,
    *,
    field_name: str,
    reason: str,
    signer: ServiceSigner,
    timestamper: TimeStamper,
    location: str = "日本",
    contact_info: str | None = None,
    fill: Mapping[str, str] | None = None,
) -> bytes:
    """Sign the empty field ``field_name`` (PAdES, SHA-256, signature timestamp) in one revision.

    ``reason`` is the Japanese sentence recording who agreed and when. ``fill`` maps box names
    (created by :func:`prepare`) to this party's values; they are written in the same
    revision, before the signature covers them. Raises :class:`TimestampUnavailable` when no
    TSA answers, ``ValueError`` when the field does not exist or is already signed, or a box
    is unknown or already filled, :class:`BoxOverflow` when a value does not fit its box and
    :class:`~keiyaku.fonts.MissingGlyphError` when the font cannot draw it; in every case
    nothing is returned and no TSA was asked.
    """
    if timestamper is None:
        raise ValueError("a timestamper is required: keiyaku never signs without a timestamp")
    return _run(
        _sign_agreement(
            pdf,
            field_name=field_name,
            reason=reason,
            signer=signer,
            timestamper=timestamper,
            location=location,
            contact_info=contact_info,
            fill=dict(fill or {}),
        )
    )


async def _sign_agreement(
    pdf: bytes,
    *,
    field_name: str,
    reason: str,
    signer: ServiceSigner,
    timestamper: TimeStamper,
    location: str,
    contact_info: str | None,
    fill: Mapping[str, str],
) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=MD_ALGORITHM,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        contact_info=contact_info,
    )
    pdf_signer = signers.PdfSigner(meta, signer=signer.signer, timestamper=timestamper)
    for attempt in range(2):
        with _revision(pdf) as (writer, out):
            _require_empty_field(writer, field_name)
            # The party's boxes: same writer, same revision, before the signature covers them.
            if fill:
                fill_box_fields(writer, fill)
            try:
                await pdf_signer.async_sign_pdf(
                    writer,
                    existing_fields_only=True,
                    bytes_reserved=signer.bytes_reserved,
                    output=out,
                )
            except SigningError as exc:
                if attempt or "larger than expected" not in str(exc):
                    raise
                # The TSA's token outgrew our reservation: remember a bigger one for good, retry.
                needed = re.search(r"required (\d+) bytes", str(exc))
                size = int(needed.group(1)) if needed else 2 * signer.bytes_reserved
                signer.bytes_reserved = max(2 * signer.bytes_reserved, (size + size // 4) // 2 * 2)
                continue
            except TimestampRequestError as exc:
                if isinstance(exc, TimestampUnavailable):
                    raise
                raise TimestampUnavailable(str(exc)) from exc
            _count("signature", field_name)
            return out.getvalue()
    raise AssertionError("unreachable")  # pragma: no cover


def _require_empty_field(writer: IncrementalPdfFileWriter, field_name: str) -> None:
    found = list(fields.enumerate_sig_fields(writer, with_name=field_name))
    if not found:
        raise ValueError(f"no signature field {field_name!r}")
    if found[0][1] is not None:
        raise ValueError(f"signature field {field_name!r} is already signed")


@dataclass(frozen=True)
class ValidationInputs:
    """What a pyHanko ``ValidationContext`` is built from, as DER bytes: the form in which it
    crosses into a validation child (``keiyaku.signing.budget``); a built context does not
    survive pickling."""

    trust_roots: tuple[bytes, ...]
    other_certs: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsps: tuple[bytes, ...] = ()
    moment: dt.datetime | None = None
    revocation_mode: str = "hard-fail"
    """pyHanko's mode: with ``hard-fail`` a certificate naming a CRL or OCSP location must have
    revocation information, otherwise it is not trusted."""

    def context(self) -> ValidationContext:
        """A fresh context, fetching nothing from the network."""
        return ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(der) for der in self.trust_roots],
            other_certs=[asn1_x509.Certificate.load(der) for der in self.other_certs],
            crls=list(self.crls),
            ocsps=list(self.ocsps),
            allow_fetching=False,
            moment=self.moment,
            revocation_mode=self.revocation_mode,
        )


def finalize(
    pdf: bytes,
    *,
    timestamper: TimeStamper,
    validation_context: ValidationContext | ValidationInputs,
) -> bytes:
    """PAdES B-LTA: validation data for every signature, then a document timestamp.

    One revision holds the DSS (certificates, CRLs and OCSP responses for each signature's
    chain and its timestamp's chain, plus the new TSA's) and the document timestamp covering
    it. Raises if a chain cannot be validated with ``validation_context``: a half-filled DSS
    would only look long-term verifiable. ``validation_context`` may be given as
    :class:`ValidationInputs` (for a call in a validation child).
    """
    if isinstance(validation_context, ValidationInputs):
        validation_context = validation_context.context()
    return _run(_finalize(pdf, timestamper=timestamper, validation_context=validation_context))


async def _finalize(
    pdf: bytes, *, timestamper: TimeStamper, validation_context: ValidationContext
) -> bytes:
    with _revision(pdf) as (writer, out):
        embedded = writer.prev.embedded_signatures
        if not writer.prev.embedded_regular_signatures:
            raise ValueError("nothing to finalise: the document has no signature")
        paths = []
        for sig in embedded:
            paths.extend(await collect_validation_info(sig, validation_context))
        DocumentSecurityStore.supply_dss_in_writer(
            writer, None, paths=paths, validation_context=validation_context
        )
        return await _document_timestamp(writer, out, timestamper, validation_context)


async def _document_timestamp(
    writer: IncrementalPdfFileWriter,
    out: BytesIO,
    timestamper: TimeStamper,
    validation_context: ValidationContext,
    md_algorithm: str = MD_ALGORITHM,
) -> bytes:
    number = len(writer.prev.embedded_timestamp_signatures) + 1
    stamper = PdfTimeStamper(timestamper, field_name=f"keiyaku-timestamp-{number:02d}")
    try:
        await stamper.async_timestamp_pdf(
            writer,
            md_algorithm,
            validation_context=validation_context,
            output=out,
            # DSS first, then the timestamp over it, in the same revision (no VRI: PAdES
            # does not need it, and it cannot name a signature that does not exist yet).
            dss_settings=TimestampDSSContentSettings(update_before_ts=True, include_vri=False),
        )
    except TimestampRequestError as exc:
        if isinstance(exc, TimestampUnavailable):
            raise
        raise TimestampUnavailable(str(exc)) from exc
    _count("document_timestamp", stamper.field_name)
    return out.getvalue()


def timestamp_document(
    pdf: bytes,
    *,
    timestamper: TimeStamper,
    validation_context: ValidationContext | ValidationInputs,
) -> bytes:
    """A document timestamp over ``pdf`` exactly as it is (R30: a contract imported from paper
    or another service), in one incremental revision: the TSA's validation data in the DSS,
    then the timestamp covering it. ``pdf`` is a prefix of the result; earlier signatures are
    neither validated nor touched. Raises :class:`TimestampUnavailable` when no TSA answers;
    nothing is returned then. ``validation_context`` may be :class:`ValidationInputs` (for a
    call in a validation child)."""
    if isinstance(validation_context, ValidationInputs):
        validation_context = validation_context.context()
    return _run(
        _timestamp_document(pdf, timestamper=timestamper, validation_context=validation_context)
    )


async def _timestamp_document(
    pdf: bytes, *, timestamper: TimeStamper, validation_context: ValidationContext
) -> bytes:
    with _revision(pdf) as (writer, out):
        return await _document_timestamp(writer, out, timestamper, validation_context)


def renew(
    pdf: bytes,
    *,
    timestamper: TimeStamper,
    validation_context: ValidationContext,
    md_algorithm: str = MD_ALGORITHM,
) -> bytes:
    """Archive timestamp renewal: validation data for the last document timestamp, and a new
    document timestamp over everything (one revision). Requires a finalised document.

    ``md_algorithm`` is the hash of the new timestamp's message imprint (``"sha256"``,
    ``"sha384"``, ``"sha512"``): a stronger one once the renewal policy retires SHA-256 (R21,
    ``keiyaku.signing.archive``). Raises :class:`TimestampUnavailable` when no TSA answers,
    ``ValueError`` when the document has no document timestamp; nothing is returned then.
    """
    return _run(
        _renew(
            pdf,
            timestamper=timestamper,
            validation_context=validation_context,
            md_algorithm=md_algorithm,
        )
    )


async def _renew(
    pdf: bytes,
    *,
    timestamper: TimeStamper,
    validation_context: ValidationContext,
    md_algorithm: str,
) -> bytes:
    with _revision(pdf) as (writer, out):
        timestamps = writer.prev.embedded_timestamp_signatures
        if not timestamps:
            raise ValueError("nothing to renew: the document has no document timestamp")
        # What pyHanko's update_archival_timestamp_chain does, in our single revision: the last
        # timestamp's chain goes into the DSS before the new timestamp covers it.
        paths = await collect_validation_info(timestamps[-1], validation_context)
        DocumentSecurityStore.supply_dss_in_writer(
            writer, None, paths=paths, validation_context=validation_context
        )
        return await _document_timestamp(writer, out, timestamper, validation_context, md_algorithm)


def _to_asn1(der: bytes) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der)


# Verification lives in its own module; re-exported here so callers have one entry point.
from keiyaku.signing.validation import (  # noqa: E402
    DOCUMENT_TIMESTAMP,
    SIGNATURE,
    SignatureReport,
    VerificationReport,
    verify,
)
