"""Revocation information for keiyaku's own authority: a CRL, an OCSP responder, and a
pyHanko validation context fed with both, so that B-LTA works without any network.

Invariants:
- Nothing is ever revoked by this authority today: the CRL is empty and OCSP answers ``good``
  for the two certificates the root issued (signing, TSA) and ``unknown`` for anything else.
- Both are signed directly by the root (RFC 6960 §2.6 "the CA who issued the certificate"), so
  no delegated OCSP responder certificate needs its own revocation checking.
- Every answer is fresh: thisUpdate is the moment of the call, nextUpdate seven days later.
- :func:`ocsp_respond` never raises on bad input: it answers ``malformedRequest``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

from asn1crypto import ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko_certvalidator import ValidationContext

from keiyaku.signing.engine import ValidationInputs

from .authority import Authority

__all__ = [
    "NEXT_UPDATE",
    "current_crl",
    "ocsp_respond",
    "ocsp_response_for",
    "validation_context",
]

NEXT_UPDATE = dt.timedelta(days=7)
# More single requests than this in one OCSP request is abuse, not a validator.
_MAX_SINGLE_REQUESTS = 16


def current_crl(authority: Authority, *, now: dt.datetime | None = None) -> bytes:
    """The root's CRL (DER): empty, valid from ``now`` for :data:`NEXT_UPDATE`."""
    when = _second(now)
    root_key = _root_key(authority)
    builder = (
        x509.CertificateRevocationListBuilder()
        # Byte-identical to the certificates' issuer field (path validation compares
        # encodings), so taken from the root certificate rather than rebuilt.
        .issuer_name(_root_x509(authority).subject)
        .last_update(when)
        .next_update(when + NEXT_UPDATE)
        # The CRL number must grow with every new CRL; seconds since the epoch do, across
        # processes and restarts, without keeping a counter anywhere.
        .add_extension(x509.CRLNumber(int(when.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_respond(
    request_der: bytes, *, authority: Authority, now: dt.datetime | None = None
) -> bytes:
    """The DER ``OCSPResponse`` answering a DER ``OCSPRequest``."""
    try:
        request = ocsp.OCSPRequest.load(request_der, strict=True)
        tbs = request["tbs_request"]
        cert_ids = [item["req_cert"] for item in tbs["request_list"]]
        nonce = None
        for extension in tbs["request_extensions"]:
            if extension["extn_id"].native == "nonce":
                nonce = extension["extn_value"].parsed.native
        for cert_id in cert_ids:
            cert_id.native  # noqa: B018 - asn1crypto parses lazily: fail here, not later
    except (ValueError, TypeError, KeyError, OverflowError):
        return _unsuccessful("malformed_request")
    if not 1 <= len(cert_ids) <= _MAX_SINGLE_REQUESTS:
        return _unsuccessful("malformed_request")
    return _basic_response(cert_ids, authority=authority, nonce=nonce, now=now)


def validation_context(
    authority: Authority,
    *,
    at: dt.datetime | None = None,
    extra_roots: Iterable[asn1_x509.Certificate] = (),
) -> ValidationContext:
    """A pyHanko validation context trusting the root, with a CRL and OCSP responses in memory.

    Fetching is off: everything validation needs is supplied, so ``add_validation_info``,
    document timestamps and archive renewal run without network. ``at`` moves the validation
    moment (and the revocation information with it), e.g. to test a date in the future.
    Revocation checking is ``hard-fail``: a certificate that names a CRL or OCSP location must
    have revocation information, otherwise it is not trusted (and nothing half-made ends up
    in a document security store).
    """
    return validation_inputs(authority, at=at, extra_roots=extra_roots).context()


def validation_inputs(
    authority: Authority,
    *,
    at: dt.datetime | None = None,
    extra_roots: Iterable[asn1_x509.Certificate] = (),
) -> ValidationInputs:
    """What :func:`validation_context` is built from, as DER (for a validation child)."""
    crl = current_crl(authority, now=at)
    ocsps = [
        ocsp_response_for(cert, authority=authority, now=at)
        for cert in (authority.signer_cert, authority.tsa_cert)
    ]
    return ValidationInputs(
        trust_roots=tuple(c.dump() for c in (authority.root_cert, *extra_roots)),
        other_certs=(authority.signer_cert.dump(), authority.tsa_cert.dump()),
        crls=(crl,),
        ocsps=tuple(ocsps),
        moment=at,
        revocation_mode="hard-fail",
    )


def ocsp_response_for(
    cert: asn1_x509.Certificate, *, authority: Authority, now: dt.datetime | None = None
) -> bytes:
    """The DER OCSP response about one certificate, as if a client had asked (no nonce)."""
    return _basic_response([_cert_id(cert, authority)], authority=authority, nonce=None, now=now)


def _basic_response(
    cert_ids: Sequence[ocsp.CertId],
    *,
    authority: Authority,
    nonce: bytes | None,
    now: dt.datetime | None,
) -> bytes:
    when = _second(now)
    issued = {authority.signer_cert.serial_number, authority.tsa_cert.serial_number}
    responses = []
    for cert_id in cert_ids:
        known = _issued_by_root(cert_id, authority) and cert_id["serial_number"].native in issued
        responses.append(
            {
                # Echo the CertID exactly as asked: clients match on its encoding.
                "cert_id": cert_id,
                "cert_status": ocsp.CertStatus(name="good" if known else "unknown", value=None),
                "this_update": when,
                "next_update": when + NEXT_UPDATE,
            }
        )
    response_data: dict[str, object] = {
        "responder_id": {"by_key": authority.root_cert.public_key.sha1},
        "produced_at": when,
        "responses": responses,
    }
    if nonce is not None:
        response_data["response_extensions"] = [{"extn_id": "nonce", "extn_value": nonce}]
    tbs = ocsp.ResponseData(response_data)
    signature = _root_key(authority).sign(tbs.dump(), padding.PKCS1v15(), hashes.SHA256())
    basic = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": signature,
            # The responder is the root itself; shipping its certificate lets validators that
            # look for the responder only inside the response (openssl) find it.
            "certs": [authority.root_cert],
        }
    )
    return ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump()


def _issued_by_root(cert_id: ocsp.CertId, authority: Authority) -> bool:
    algorithm = cert_id["hash_algorithm"]["algorithm"].native
    if algorithm not in {"sha1", "sha256", "sha384", "sha512"}:
        return False
    root = authority.root_cert
    name_hash = hashlib.new(algorithm, root.subject.dump()).digest()
    key_hash = hashlib.new(algorithm, bytes(root.public_key["public_key"])).digest()
    return (
        cert_id["issuer_name_hash"].native == name_hash
        and cert_id["issuer_key_hash"].native == key_hash
    )


def _cert_id(cert: asn1_x509.Certificate, authority: Authority) -> ocsp.CertId:
    root = authority.root_cert
    return ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": hashlib.sha1(root.subject.dump()).digest(),  # noqa: S324 - RFC 6960 CertID
            "issuer_key_hash": root.public_key.sha1,
            "serial_number": cert.serial_number,
        }
    )


def _unsuccessful(status: str) -> bytes:
    return ocsp.OCSPResponse({"response_status": status}).dump()


def _root_key(authority: Authority) -> rsa.RSAPrivateKey:
    key = authority.private_key("root")
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - we only issue RSA keys
        raise TypeError("the root key must be RSA")
    return key


def _root_x509(authority: Authority) -> x509.Certificate:
    return x509.load_der_x509_certificate(authority.root_cert.dump())


def _second(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
