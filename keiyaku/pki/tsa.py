"""keiyaku's RFC 3161 time-stamp authority: one request in, one DER response out.

Invariants:
- :func:`respond` never raises on bad input: a request it cannot honour gets a ``rejection``
  status with a failure reason (RFC 3161 §2.4.2), as a client expects.
- A granted token is a CMS SignedData over a TSTInfo, signed by the TSA key with the
  ESS signing-certificate-v2 attribute (RFC 5816), so ``openssl ts -verify`` and pyHanko accept it.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets

from asn1crypto import algos, cms, core, tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute

from .authority import Authority

__all__ = ["POLICY_OID", "respond"]

# keiyaku's time-stamping policy. An OID under the UUID arc 2.25 (ITU-T X.667) needs no
# registration and cannot collide; an accredited TSA in production has its own policy.
POLICY_OID = "2.25.250355760484631189780623663183718642963"

# Hash algorithms we accept in a message imprint, with their digest lengths. SHA-1 is refused:
# a timestamp over a SHA-1 imprint proves nothing today.
_IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_512": 64}


class _RejectionResp(core.Sequence):
    """A TimeStampResp without a token: asn1crypto's class wrongly makes the token mandatory."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 - asn1crypto's declaration style


class _Rejected(Exception):
    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


def respond(request_der: bytes, *, authority: Authority, now: dt.datetime | None = None) -> bytes:
    """The DER ``TimeStampResp`` for a DER ``TimeStampReq``.

    ``now`` fixes genTime (tests); it defaults to the current time, truncated to the second
    (the token states an accuracy of one second).
    """
    try:
        request = _parse(request_der)
    except _Rejected as rejected:
        return _rejection(rejected.fail_info, rejected.text)
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    token = _token(request, authority=authority, when=when)
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


def _parse(request_der: bytes) -> tsp.TimeStampReq:
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        # asn1crypto parses lazily: touch every field we use so errors surface here.
        version = request["version"].native
        algorithm = request["message_imprint"]["hash_algorithm"]["algorithm"].native
        digest = request["message_imprint"]["hashed_message"].native
        policy = request["req_policy"].native
        extensions = request["extensions"].native
        request["nonce"].native  # noqa: B018 - parse check
        request["cert_req"].native  # noqa: B018 - parse check
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _Rejected("bad_data_format", "malformed TimeStampReq") from exc
    if version != "v1":
        raise _Rejected("bad_request", "unsupported version")
    if algorithm not in _IMPRINT_LENGTHS:
        raise _Rejected("bad_alg", f"unsupported hash algorithm {algorithm}")
    if len(digest) != _IMPRINT_LENGTHS[algorithm]:
        raise _Rejected("bad_data_format", "message imprint has the wrong length")
    if policy is not None and policy != POLICY_OID:
        raise _Rejected("unaccepted_policy", "unknown policy")
    if extensions:
        raise _Rejected("unaccepted_extensions", "extensions are not supported")
    return request


def _rejection(fail_info: str, text: str) -> bytes:
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [text],
            "fail_info": tsp.PKIFailureInfo({fail_info}),
        }
    )
    return _RejectionResp({"status": status}).dump()


@functools.lru_cache(maxsize=4)
def _signing_certificate_attr(cert_der: bytes) -> bytes:
    """ESS signing-certificate-v2 (RFC 5035) naming the TSA certificate, as DER (computed once)."""
    cert = x509.Certificate.load(cert_der)
    return simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(cert)).dump()


@functools.lru_cache(maxsize=4)
def _signer_identifier(cert_der: bytes) -> bytes:
    cert = x509.Certificate.load(cert_der)
    return cms.SignerIdentifier(
        {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}}
    ).dump()


def _cms_time(when: dt.datetime) -> cms.Time:
    """RFC 5652 §11.3: signing-time is UTCTime from 1950 to 2049, GeneralizedTime otherwise.

    UTCTime has two digits for the year: a token stamped in 2050 or later (an archive timestamp
    renewed decades after signing, R21) failed to be made at all.
    """
    if 1950 <= when.year <= 2049:
        return cms.Time({"utc_time": core.UTCTime(when)})
    return cms.Time({"generalized_time": core.GeneralizedTime(when)})


def _token(
    request: tsp.TimeStampReq, *, authority: Authority, when: dt.datetime
) -> cms.ContentInfo:
    tsa_cert: x509.Certificate = authority.tsa_cert
    tst_info = {
        "version": "v1",
        "policy": POLICY_OID,
        "message_imprint": request["message_imprint"],
        # RFC 3161: unique per token, at most 160 bits; 128 random bits never repeat in practice.
        "serial_number": secrets.randbits(127) | 1 << 126,
        "gen_time": when,
        "accuracy": {"seconds": 1},
        "ordering": False,
        "tsa": x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if request["nonce"].native is not None:
        tst_info["nonce"] = request["nonce"]
    tst_info_der = tsp.TSTInfo(tst_info).dump()

    digest = hashes.Hash(hashes.SHA256())
    digest.update(tst_info_der)
    signed_attrs_der = cms.CMSAttributes(
        [
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute("signing_time", _cms_time(when)),
            simple_cms_attribute("message_digest", digest.finalize()),
            cms.CMSAttribute.load(_signing_certificate_attr(tsa_cert.dump())),
        ]
    ).dump()
    key = authority.private_key("tsa")
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - we only issue RSA keys
        raise TypeError("the TSA key must be RSA")
    signature = key.sign(signed_attrs_der, padding.PKCS1v15(), hashes.SHA256())

    sha256 = algos.DigestAlgorithm({"algorithm": "sha256"})
    # Pieces go in re-parsed from DER: asn1crypto re-encodes a *built* value from scratch
    # whenever it is nested (~8 ms for these), a parsed one is copied as bytes.
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier.load(_signer_identifier(tsa_cert.dump())),
            "digest_algorithm": sha256,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            "signed_attrs": cms.CMSAttributes.load(signed_attrs_der),
            "signature": signature,
        }
    )
    signed_data = {
        "version": "v3",
        "digest_algorithms": [sha256],
        "encap_content_info": {
            "content_type": "tst_info",
            "content": cms.ParsableOctetString(tst_info_der),
        },
        "signer_infos": [signer_info],
    }
    if request["cert_req"].native:
        # Only the TSA certificate: the root is the validator's trust anchor, it brings its own.
        signed_data["certificates"] = [tsa_cert]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
