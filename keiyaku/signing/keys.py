"""The process-wide signing set-up from Django settings: signer, timestamper, validation data.

Production sets ``KEIYAKU_SIGNER_PKCS12`` (+ ``_PASSWORD``) or ``KEIYAKU_SIGNER_PKCS11_*`` (a key
in an HSM, ``keiyaku.signing.hsm``) and external ``KEIYAKU_TSA_URLS``; the default uses keiyaku's
own authority (``keiyaku.pki``) and its own TSA endpoint.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

from keiyaku.pki import revocation, tsa_access
from keiyaku.pki.service import get_authority

from .engine import ServiceSigner, ValidationInputs, make_timestamper

if TYPE_CHECKING:
    from .hsm import Pkcs11Config

__all__ = [
    "get_revocation_data",
    "get_service_certs",
    "get_service_signer",
    "get_timestamper",
    "get_trust_roots",
    "get_validation_context",
    "get_validation_inputs",
    "build_service_signer",
    "pkcs11_config",
    "signer_backend",
]


@functools.cache
def get_service_signer() -> ServiceSigner:
    """Loaded once per process: parsing the key (or logging in to the HSM) is the expensive
    part of a signature. Not cached when loading fails: the next call tries again."""
    return build_service_signer()


# --- signing key back ends (issue 13): local authority, PKCS#12 file, PKCS#11 token -------------
def signer_backend() -> str:
    """``"pkcs11"``, ``"pkcs12"`` or ``"local"`` (keiyaku's own authority), from the settings.

    Raises ``ImproperlyConfigured`` when both a PKCS#12 file and a PKCS#11 module are set.
    """
    if settings.KEIYAKU_SIGNER_PKCS11_MODULE and settings.KEIYAKU_SIGNER_PKCS12:
        raise ImproperlyConfigured(
            "KEIYAKU_SIGNER_PKCS12 and KEIYAKU_SIGNER_PKCS11_MODULE are both set: choose one"
        )
    if settings.KEIYAKU_SIGNER_PKCS11_MODULE:
        return "pkcs11"
    if settings.KEIYAKU_SIGNER_PKCS12:
        return "pkcs12"
    return "local"


def build_service_signer() -> ServiceSigner:
    """A new signer from the settings (:func:`get_service_signer` keeps one per process)."""
    backend = signer_backend()
    if backend == "pkcs11":
        return ServiceSigner.from_pkcs11(pkcs11_config())
    if backend == "pkcs12":
        return ServiceSigner.from_pkcs12(
            settings.KEIYAKU_SIGNER_PKCS12, settings.KEIYAKU_SIGNER_PKCS12_PASSWORD or None
        )
    return ServiceSigner.from_authority(get_authority())


def pkcs11_config() -> Pkcs11Config:
    """The ``KEIYAKU_SIGNER_PKCS11_*`` settings as a :class:`~keiyaku.signing.hsm.Pkcs11Config`.

    Raises ``ImproperlyConfigured`` naming the setting when one is missing or unreadable (the
    module file, the token label, the key's label or ID, the PIN or its file, the certificate
    file); never shows the PIN.
    """
    from keiyaku.signing.hsm import Pkcs11Config, load_certificate_chain

    module = settings.KEIYAKU_SIGNER_PKCS11_MODULE
    if not Path(module).is_file():
        raise ImproperlyConfigured(f"KEIYAKU_SIGNER_PKCS11_MODULE: no file {module}")
    if not settings.KEIYAKU_SIGNER_PKCS11_TOKEN_LABEL:
        raise ImproperlyConfigured("KEIYAKU_SIGNER_PKCS11_TOKEN_LABEL is not set")
    key_id = None
    if settings.KEIYAKU_SIGNER_PKCS11_KEY_ID:
        try:
            key_id = bytes.fromhex(settings.KEIYAKU_SIGNER_PKCS11_KEY_ID.replace(":", ""))
        except ValueError:
            raise ImproperlyConfigured(
                "KEIYAKU_SIGNER_PKCS11_KEY_ID is not hexadecimal (e.g. 01 or a1:b2)"
            ) from None
    if not settings.KEIYAKU_SIGNER_PKCS11_KEY_LABEL and not key_id:
        raise ImproperlyConfigured(
            "set KEIYAKU_SIGNER_PKCS11_KEY_LABEL or KEIYAKU_SIGNER_PKCS11_KEY_ID (the key's "
            "CKA_LABEL or CKA_ID)"
        )
    pin = settings.KEIYAKU_SIGNER_PKCS11_PIN
    if settings.KEIYAKU_SIGNER_PKCS11_PIN_FILE:
        try:
            pin = Path(settings.KEIYAKU_SIGNER_PKCS11_PIN_FILE).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ImproperlyConfigured(
                f"KEIYAKU_SIGNER_PKCS11_PIN_FILE cannot be read: {exc.strerror}"
            ) from None
    if not pin:
        raise ImproperlyConfigured(
            "set KEIYAKU_SIGNER_PKCS11_PIN or KEIYAKU_SIGNER_PKCS11_PIN_FILE (the user PIN)"
        )
    chain: tuple[bytes, ...] = ()
    if settings.KEIYAKU_SIGNER_PKCS11_CERT:
        try:
            chain = load_certificate_chain(settings.KEIYAKU_SIGNER_PKCS11_CERT)
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"KEIYAKU_SIGNER_PKCS11_CERT ({settings.KEIYAKU_SIGNER_PKCS11_CERT}): {exc}"
            ) from None
    return Pkcs11Config(
        module=module,
        token_label=settings.KEIYAKU_SIGNER_PKCS11_TOKEN_LABEL,
        pin=pin,
        key_label=settings.KEIYAKU_SIGNER_PKCS11_KEY_LABEL or None,
        key_id=key_id,
        cert_chain_pem=chain,
    )


# --- end of the signing key back ends ---------------------------------------------------------


def get_service_certs() -> list[x509.Certificate]:
    """The certificates whose signatures are this keiyaku's own: the configured signer's and
    that of keiyaku's own authority (used before an external one was configured)."""
    return [get_service_signer().cert, get_authority().signer_cert]


def get_timestamper() -> TimeStamper:
    """The TSAs of ``KEIYAKU_TSA_URLS``, tried in order.

    A fresh object per call: a timestamper caches TSA certificates, and a TSA may change its
    certificate between two jobs. keiyaku's own endpoint gets the client token it requires
    (``keiyaku.pki.tsa_access``); no other TSA sees it.
    """
    urls = settings.KEIYAKU_TSA_URLS
    return make_timestamper(urls, headers={url: tsa_access.headers_for(url) for url in urls})


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
