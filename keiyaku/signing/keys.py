"""The process-wide signing set-up from Django settings: signer, timestamper, validation data.

Production sets ``KEIYAKU_SIGNER_PKCS12`` (+ ``_PASSWORD``) and external ``KEIYAKU_TSA_URLS``;
the default uses keiyaku's own authority (``keiyaku.pki``) and its own TSA endpoint.
"""

from __future__ import annotations

import functools

from asn1crypto import x509
from django.conf import settings
from pyhanko_certvalidator import ValidationContext

from keiyaku.pki import revocation
from keiyaku.pki.service import get_authority

from . import tsas
from .engine import ServiceSigner, ValidationInputs, make_timestamper
from .timestamping import FailoverTimeStamper

__all__ = [
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


def get_validation_context() -> ValidationContext:
    """Trust and revocation data for finalising and renewing (B-LTA), fresh per call.

    Covers keiyaku's own authority. With an external signing certificate or TSA, their roots
    and revocation data are not here (fetching stays off); finalising then fails loudly rather
    than writing an incomplete DSS.
    """
    return revocation.validation_context(get_authority())


def get_validation_inputs() -> ValidationInputs:
    """:func:`get_validation_context`'s ingredients, as DER: for finalising in a validation
    child (``keiyaku.signing.budget``)."""
    return revocation.validation_inputs(get_authority())


def get_trust_roots() -> list[x509.Certificate]:
    """Roots that ``engine.verify`` should trust."""
    return [get_authority().root_cert]


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
