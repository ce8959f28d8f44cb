"""The process-wide signing set-up from Django settings: signer, timestamper, validation data.

Production sets ``KEIYAKU_SIGNER_PKCS12`` (+ ``_PASSWORD``) and external ``KEIYAKU_TSA_URLS``;
the default uses keiyaku's own authority (``keiyaku.pki``) and its own TSA endpoint.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path

from asn1crypto import pem, x509
from django.conf import settings
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

from keiyaku.pki import chains, revocation
from keiyaku.pki.service import get_authority

from . import tsas
from .aio import run_sync
from .certificates import DocumentCertificates, token_certificates
from .engine import MD_ALGORITHM, ServiceSigner, ValidationInputs, make_timestamper
from .timestamping import FailoverTimeStamper

__all__ = [
    "configured_trust_roots",
    "get_revocation_data",
    "get_service_certs",
    "get_service_signer",
    "get_timestamper",
    "get_trust_roots",
    "get_validation_context",
    "get_validation_inputs",
]


@functools.cache
def get_service_signer() -> ServiceSigner:
    """Loaded once per process: parsing the key is the expensive part of a signature."""
    if settings.KEIYAKU_SIGNER_PKCS12:
        return ServiceSigner.from_pkcs12(
            settings.KEIYAKU_SIGNER_PKCS12, settings.KEIYAKU_SIGNER_PKCS12_PASSWORD or None
        )
    return ServiceSigner.from_authority(get_authority())


def get_service_certs() -> list[x509.Certificate]:
    """The certificates whose signatures are this keiyaku's own: the configured signer's and
    that of keiyaku's own authority (used before an external one was configured)."""
    return [get_service_signer().cert, get_authority().signer_cert]


def get_timestamper() -> FailoverTimeStamper:
    """The TSAs of ``KEIYAKU_TSA_URLS``, tried in order, each with its credentials
    (``keiyaku.signing.tsas``); a token counts only if its signer chains to
    :func:`get_trust_roots`.

    A fresh object per call: a timestamper caches TSA certificates, and a TSA may change its
    certificate between two jobs. keiyaku's own endpoint gets the client token it requires
    (``keiyaku.pki.tsa_access``); no other TSA sees it. The caller records what each TSA did
    (``tsas.tsa_attempts_record(timestamper.drain())``).
    """
    return make_timestamper(
        [],
        endpoints=tsas.tsa_endpoints(),
        timeout=settings.KEIYAKU_TSA_TIMEOUT,
        trust_roots=get_trust_roots(),
    )


def get_validation_context(
    *,
    documents: Sequence[DocumentCertificates] = (),
    timestamper: TimeStamper | None = None,
) -> ValidationContext:
    """Trust and revocation data for finalising and renewing (B-LTA), fresh per call: what
    :func:`get_validation_inputs` gathers, as a context (fetching stays off in it)."""
    return get_validation_inputs(documents=documents, timestamper=timestamper).context()


# --- trust roots and external chains (issue 13) ----------------------------------------------
# Seconds for each call to a CA's OCSP responder, CRL or caIssuers URL.
REVOCATION_FETCH_TIMEOUT = 10.0


def get_validation_inputs(
    *,
    documents: Sequence[DocumentCertificates] = (),
    timestamper: TimeStamper | None = None,
) -> ValidationInputs:
    """Everything B-LT/B-LTA needs, as DER, for finalising in a validation child
    (``keiyaku.signing.budget``): the trust roots (:func:`get_trust_roots`), keiyaku's own
    authority's CRL and OCSP answers (made in memory), and for every other certificate
    involved its chain and revocation data fetched from its own AIA/CRL URLs through the
    safe outbound client (``keiyaku.pki.chains``).

    The certificates involved: the configured signer's chain, those behind every signature
    and timestamp already in ``documents`` (an earlier signer or TSA, after a rotation), and
    the TSA that ``timestamper`` reaches (asked once here; the token is cached in the
    timestamper, which then stamps the documents with the same TSA's answer for size).

    Raises ``chains.ValidationDataUnavailable`` when any of it cannot be had (issue 13: a
    contract is never completed with an incomplete DSS; the job retries), and
    ``TimestampUnavailable`` when no TSA answers.
    """
    authority = get_authority()
    local = revocation.validation_inputs(authority, extra_roots=configured_trust_roots())
    signer = get_service_signer()
    leaves = {signer.cert.dump(): signer.cert}
    pool = {c.dump(): c for c in signer.signer.cert_registry}
    for found in documents:
        leaves.update((der, x509.Certificate.load(der)) for der in found.signers)
        pool.update((der, x509.Certificate.load(der)) for der in found.others)
    if timestamper is not None:
        token = run_sync(timestamper.async_dummy_response(MD_ALGORITHM))
        tsa_cert, carried = token_certificates(token["content"])
        leaves[tsa_cert.dump()] = tsa_cert
        pool.update((c.dump(), c) for c in carried)
    gathered = chains.gather(
        leaves.values(),
        pool=pool.values(),
        trust_roots=get_trust_roots(),
        covered=_issued_locally,
        timeout=REVOCATION_FETCH_TIMEOUT,
    )
    return dataclasses.replace(
        local,
        other_certs=tuple(dict.fromkeys((*local.other_certs, *gathered.certs, *pool))),
        crls=(*local.crls, *gathered.crls),
        ocsps=(*local.ocsps, *gathered.ocsps),
    )


def _issued_locally(cert: x509.Certificate) -> bool:
    """Whether keiyaku's own authority issued ``cert`` (its revocation data is made here)."""
    return issued_by_own_authority(cert)


def issued_by_own_authority(cert: x509.Certificate) -> bool:
    """Whether ``cert`` is keiyaku's own root or was issued by it: matched by key (authority
    key identifier), since another keiyaku's root bears the same name."""
    root = get_authority().root_cert
    if cert.dump() == root.dump():
        return True
    return cert.issuer == root.subject and cert.authority_key_identifier == root.key_identifier


def get_trust_roots() -> list[x509.Certificate]:
    """Roots that finalising, the verification page and ``keiyaku verify`` trust: keiyaku's
    own authority's root, then those of ``KEIYAKU_TRUST_ROOTS`` (issue 13)."""
    roots = {c.dump(): c for c in (get_authority().root_cert, *configured_trust_roots())}
    return list(roots.values())


def configured_trust_roots() -> list[x509.Certificate]:
    """The certificates in the files ``KEIYAKU_TRUST_ROOTS`` names (PEM, several per file
    allowed, or DER). Raises ``ValueError`` naming a file that holds no certificate, and
    ``OSError`` for one that cannot be read (``keiyaku check --deploy`` reports both)."""
    return list(_roots_in(tuple(str(p) for p in settings.KEIYAKU_TRUST_ROOTS)))


@functools.lru_cache(maxsize=4)
def _roots_in(paths: tuple[str, ...]) -> tuple[x509.Certificate, ...]:
    roots: list[x509.Certificate] = []
    for path in paths:
        data = Path(path).read_bytes()
        try:
            if pem.detect(data):
                found = [
                    x509.Certificate.load(der)
                    for kind, _headers, der in pem.unarmor(data, multiple=True)
                    if kind == "CERTIFICATE"
                ]
            else:
                found = [x509.Certificate.load(data)]
            for cert in found:
                cert.native  # noqa: B018 - asn1crypto parses lazily: fail here
        except ValueError as exc:
            raise ValueError(f"{path}: not a certificate ({exc})") from exc
        if not found:
            raise ValueError(f"{path}: holds no certificate")
        roots.extend(found)
    return tuple(roots)


def get_revocation_data() -> tuple[list[bytes], list[bytes]]:
    """Current CRLs and OCSP responses (DER) of our authority, for ``engine.verify``.

    A document's own DSS goes stale for its newest timestamp once the CRL's nextUpdate has
    passed; fresh answers from the issuing authority let a later verification still pass.
    """
    authority = get_authority()
    crls = [revocation.current_crl(authority)]
    ocsps = [
        revocation.ocsp_response_for(cert, authority=authority)
        for cert in (authority.signer_cert, authority.tsa_cert)
    ]
    return crls, ocsps
