"""Validation data for certificates keiyaku did not issue, from the certificates' own URLs.

An external signing certificate (a commercial CA's, an accredited certification service's)
and an external TSA's certificate name where their issuers publish: the issuer's certificate
(AIA caIssuers), an OCSP responder (AIA OCSP) and CRLs (CRL distribution points). Finalising
needs all of it in the document's DSS for PAdES B-LT/B-LTA (issue 13, "any certificate
chain"); :func:`gather` fetches it, every call through keiyaku's safe outbound client
(``keiyaku.outbound_http``: no internal address unless the operator allowed it).

Invariants:
- Each certificate of a chain, up to a trust root, gets every kind of revocation data it
  names: an OCSP response if it names a responder, a CRL if it names a distribution point.
  One missing piece and :func:`gather` raises :class:`ValidationDataUnavailable`: the caller
  must not write a DSS that only looks long-term verifiable.
- A certificate keiyaku's own authority issued is not fetched for (``covered``): its data is
  made in memory (``keiyaku.pki.revocation``).
- A revoked certificate is refused here, with its serial, rather than later by the validator.
- Nothing fetched is trusted here: pyHanko checks every signature on it when the DSS is built.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import cms, crl, ocsp, pem
from asn1crypto import x509 as asn1_x509

from keiyaku import outbound_http

__all__ = ["Gathered", "ValidationDataUnavailable", "chain_to_root", "gather"]

log = logging.getLogger(__name__)

# Longer chains than this are not certificate paths but loops or abuse.
MAX_CHAIN = 6
# A large CA's CRL runs to megabytes; the general outbound cap (KEIYAKU_OUTBOUND_MAX_KB) is
# sized for identity-provider answers.
MAX_CRL_BYTES = 32 * 1024 * 1024
MAX_OCSP_BYTES = 64 * 1024
MAX_CERT_BYTES = 64 * 1024


class ValidationDataUnavailable(Exception):
    """A certificate's chain or revocation data could not be obtained (or it is revoked):
    no complete DSS can be written now. The finalising job fails and is retried."""


@dataclass(frozen=True)
class Gathered:
    """What :func:`gather` found, as DER."""

    certs: tuple[bytes, ...] = ()
    """Chain certificates below the roots (issuers found in the pool or fetched)."""
    crls: tuple[bytes, ...] = ()
    ocsps: tuple[bytes, ...] = ()


def gather(
    leaves: Iterable[asn1_x509.Certificate],
    *,
    pool: Iterable[asn1_x509.Certificate],
    trust_roots: Sequence[asn1_x509.Certificate],
    covered: Callable[[asn1_x509.Certificate], bool],
    timeout: float = 10,
) -> Gathered:
    """Chains and revocation data for ``leaves`` (signing and TSA certificates).

    Args:
        pool: certificates that may be issuers (the signer's PKCS#12 chain, the
            certificates a document carries); missing issuers are fetched from caIssuers.
        trust_roots: where chains end.
        covered: true for a certificate whose revocation data the caller has already.
        timeout: seconds per HTTP call.

    Raises:
        ValidationDataUnavailable: a chain does not reach a trust root, or a URL a
            certificate names does not give a usable answer, or a certificate is revoked.
    """
    known = {c.dump(): c for c in pool}
    roots = list(trust_roots)
    certs: dict[bytes, None] = {}
    crls: dict[bytes, None] = {}
    ocsps: dict[bytes, None] = {}
    done: set[bytes] = set()
    for leaf in leaves:
        chain = chain_to_root(leaf, pool=known, trust_roots=roots, timeout=timeout)
        for cert, issuer in zip(chain, chain[1:], strict=False):
            if cert is not leaf:
                certs[cert.dump()] = None
            if cert.dump() in done or covered(cert):
                continue
            if cert.ocsp_urls:
                ocsps[_ocsp(cert, issuer, timeout=timeout)] = None
            if cert.crl_distribution_points:
                crls[_crl(cert, issuer, timeout=timeout)] = None
            done.add(cert.dump())
    return Gathered(certs=tuple(certs), crls=tuple(crls), ocsps=tuple(ocsps))


def chain_to_root(
    leaf: asn1_x509.Certificate,
    *,
    pool: dict[bytes, asn1_x509.Certificate],
    trust_roots: Sequence[asn1_x509.Certificate],
    timeout: float = 10,
    fetch: bool = True,
) -> list[asn1_x509.Certificate]:
    """``[leaf, issuer, …, root]``: issuers taken from ``pool`` (DER → certificate; fetched
    ones are added to it) or, with ``fetch``, fetched from caIssuers, ending at one of
    ``trust_roots``.

    Issuers are matched by name and key identifier; signatures are checked later, by the
    validator. Raises :class:`ValidationDataUnavailable` when no trusted root is reached.
    """
    chain = [leaf]
    cert = leaf
    for _ in range(MAX_CHAIN):
        root = _issuer_among(cert, trust_roots)
        if root is not None:
            if root.dump() != cert.dump():
                chain.append(root)
            return chain
        if cert.self_issued:
            break
        issuer = _issuer_among(cert, list(pool.values()))
        if issuer is None and fetch:
            issuer = _fetch_issuer(cert, timeout)
        if issuer is None:
            raise ValidationDataUnavailable(
                f"{_who(cert)}: its issuer ({cert.issuer.human_friendly}) is neither known nor"
                " published at a caIssuers URL"
            )
        pool[issuer.dump()] = issuer
        chain.append(issuer)
        cert = issuer
    raise ValidationDataUnavailable(
        f"{_who(leaf)}: the chain does not end at a configured trust root (KEIYAKU_TRUST_ROOTS)"
    )


def _issuer_among(
    cert: asn1_x509.Certificate, candidates: Iterable[asn1_x509.Certificate]
) -> asn1_x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject != cert.issuer:
            continue
        wanted = cert.authority_key_identifier
        if wanted is not None and candidate.key_identifier not in (None, wanted):
            continue
        return candidate
    return None


def _fetch_issuer(cert: asn1_x509.Certificate, timeout: float) -> asn1_x509.Certificate | None:
    for url in _urls(_ca_issuers(cert)):
        try:
            body = _get(url, timeout=timeout, max_bytes=MAX_CERT_BYTES, what="issuer certificate")
            for candidate in _certificates_in(body):
                if _issuer_among(cert, [candidate]) is not None:
                    return candidate
        except (ValidationDataUnavailable, ValueError) as exc:
            log.warning("caIssuers %s for %s: %s", url, _who(cert), exc)
    return None


def _ca_issuers(cert: asn1_x509.Certificate) -> list[str]:
    """The caIssuers URLs of ``cert``'s AIA extension (RFC 5280 4.2.2.1)."""
    access = cert.authority_information_access_value
    if access is None:
        return []
    return [
        str(item["access_location"].native)
        for item in access
        if item["access_method"].native == "ca_issuers"
        and item["access_location"].name == "uniform_resource_identifier"
    ]


def _certificates_in(body: bytes) -> list[asn1_x509.Certificate]:
    """A DER or PEM certificate, or a PKCS#7 "certs-only" bundle (RFC 5280 4.2.2.1)."""
    if pem.detect(body):
        return [asn1_x509.Certificate.load(der) for _type, _h, der in pem.unarmor(body, True)]
    try:
        cert = asn1_x509.Certificate.load(body, strict=True)
        cert.native  # noqa: B018 - asn1crypto parses lazily: fail here
        return [cert]
    except ValueError:
        info = cms.ContentInfo.load(body, strict=True)
        return [c.chosen for c in info["content"]["certificates"] if c.name == "certificate"]


def _ocsp(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate, *, timeout: float) -> bytes:
    """A ``good`` OCSP response about ``cert`` from the first of its responders that gives
    one (RFC 6960, over HTTP POST, with a nonce that must come back)."""
    cert_id = ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": hashlib.sha1(issuer.subject.dump()).digest(),  # noqa: S324 - RFC 6960 CertID
            "issuer_key_hash": issuer.public_key.sha1,
            "serial_number": cert.serial_number,
        }
    )
    nonce = secrets.token_bytes(16)
    request = ocsp.OCSPRequest(
        {
            "tbs_request": {
                "request_list": [{"req_cert": cert_id}],
                "request_extensions": [{"extn_id": "nonce", "extn_value": nonce}],
            }
        }
    ).dump()
    problems = []
    for url in _urls(cert.ocsp_urls):
        try:
            body = _post(url, request, timeout=timeout)
            _check_ocsp(body, cert, nonce)
            return body
        except ValidationDataUnavailable as exc:
            problems.append(str(exc))
    raise ValidationDataUnavailable(f"{_who(cert)}: no OCSP answer: {'; '.join(problems)}")


def _check_ocsp(body: bytes, cert: asn1_x509.Certificate, nonce: bytes) -> None:
    try:
        response = ocsp.OCSPResponse.load(body, strict=True)
        if response["response_status"].native != "successful":
            raise ValidationDataUnavailable(f"responder says {response['response_status'].native}")
        data = response.basic_ocsp_response["tbs_response_data"]
        sent_back = None
        for extension in data["response_extensions"]:
            if extension["extn_id"].native == "nonce":
                sent_back = extension["extn_value"].parsed.native
        # A responder may answer from a cache without the nonce (RFC 5019); a wrong one is a
        # replayed or misrouted answer.
        if sent_back is not None and sent_back != nonce:
            raise ValidationDataUnavailable("the response carries another request's nonce")
        for single in data["responses"]:
            if single["cert_id"]["serial_number"].native != cert.serial_number:
                continue
            answer = single["cert_status"].name  # RFC 6960 CertStatus
            if answer == "revoked":
                raise ValidationDataUnavailable(
                    f"{_who(cert)} is revoked (OCSP, serial {cert.serial_number:x})"
                )
            if answer == "good":
                return
            raise ValidationDataUnavailable(f"status {answer}")
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationDataUnavailable(f"unreadable OCSP response: {exc}") from exc
    raise ValidationDataUnavailable("the response does not speak of this certificate")


def _crl(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate, *, timeout: float) -> bytes:
    """A CRL from the first of ``cert``'s distribution points that gives one, issued by
    ``issuer`` and not listing ``cert``."""
    problems = []
    urls = [point.url for point in cert.crl_distribution_points if point.url]
    for url in _urls(urls):
        try:
            body = _get(url, timeout=timeout, max_bytes=MAX_CRL_BYTES, what="CRL")
            _check_crl(body, cert, issuer)
            return body
        except ValidationDataUnavailable as exc:
            problems.append(str(exc))
    raise ValidationDataUnavailable(f"{_who(cert)}: no CRL: {'; '.join(problems)}")


def _check_crl(body: bytes, cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> None:
    try:
        listing = crl.CertificateList.load(body, strict=True)
        tbs = listing["tbs_cert_list"]
        if tbs["issuer"] != issuer.subject:
            raise ValidationDataUnavailable("the CRL is not the issuer's")
        for entry in tbs["revoked_certificates"]:
            if entry["user_certificate"].native == cert.serial_number:
                raise ValidationDataUnavailable(
                    f"{_who(cert)} is revoked (CRL, serial {cert.serial_number:x})"
                )
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationDataUnavailable(f"unreadable CRL: {exc}") from exc


def _urls(urls: Iterable[str]) -> list[str]:
    # LDAP and other schemes some CAs still list are skipped, not failed on.
    return [u for u in urls if u.lower().startswith(("http://", "https://"))]


def _get(url: str, *, timeout: float, max_bytes: int, what: str) -> bytes:
    return _answer(url, "GET", None, {}, timeout=timeout, max_bytes=max_bytes, what=what)


def _post(url: str, request: bytes, *, timeout: float) -> bytes:
    headers = {"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"}
    return _answer(
        url, "POST", request, headers, timeout=timeout, max_bytes=MAX_OCSP_BYTES, what="OCSP"
    )


def _answer(
    url: str,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    *,
    timeout: float,
    max_bytes: int,
    what: str,
) -> bytes:
    try:
        response = outbound_http.fetch(
            url, method=method, body=body, headers=headers, timeout=timeout, max_bytes=max_bytes
        )
    except (outbound_http.OutboundRefused, outbound_http.OutboundError) as exc:
        raise ValidationDataUnavailable(f"{what} {url}: {exc}") from exc
    if response.status != 200:
        raise ValidationDataUnavailable(f"{what} {url}: HTTP {response.status}")
    return response.body


def _who(cert: asn1_x509.Certificate) -> str:
    return str(cert.subject.human_friendly)
