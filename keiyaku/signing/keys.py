"""The process-wide signing set-up from Django settings: signer, timestamper, validation data.

Production sets ``KEIYAKU_SIGNER_PKCS12`` (+ ``_PASSWORD``) or ``KEIYAKU_SIGNER_PKCS11_*`` (a key
in an HSM, ``keiyaku.signing.hsm``) and external ``KEIYAKU_TSA_URLS``; the default uses keiyaku's
own authority (``keiyaku.pki``) and its own TSA endpoint.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import pem, x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

from keiyaku.pki import chains, revocation
from keiyaku.pki.service import get_authority
from keiyaku.settings_keyed import keyed_on_settings

from . import tsas
from .aio import run_sync
from .certificates import DocumentCertificates, token_certificates
from .engine import MD_ALGORITHM, ServiceSigner, ValidationInputs, make_timestamper
from .timestamping import FailoverTimeStamper

if TYPE_CHECKING:
    from .hsm import Pkcs11Config

# Every setting the signer is built from (keiyaku/settings.py, docs/trust.md).
SIGNER_SETTINGS = (
    "KEIYAKU_SIGNER_PKCS12",
    "KEIYAKU_SIGNER_PKCS12_PASSWORD",
    "KEIYAKU_SIGNER_PKCS11_MODULE",
    "KEIYAKU_SIGNER_PKCS11_TOKEN_LABEL",
    "KEIYAKU_SIGNER_PKCS11_KEY_LABEL",
    "KEIYAKU_SIGNER_PKCS11_KEY_ID",
    "KEIYAKU_SIGNER_PKCS11_PIN",
    "KEIYAKU_SIGNER_PKCS11_PIN_FILE",
    "KEIYAKU_SIGNER_PKCS11_CERT",
)

__all__ = [
    "configured_trust_roots",
    "get_revocation_data",
    "get_service_certs",
    "service_certificate_record",
    "get_service_signer",
    "get_timestamper",
    "get_trust_roots",
    "get_validation_context",
    "get_validation_inputs",
    "build_service_signer",
    "pkcs11_config",
    "signer_backend",
]


def _local_authority() -> object:
    """The authority a local signer is built from (None for a PKCS#12 file or a token)."""
    return get_authority() if signer_backend() == "local" else None


@keyed_on_settings(*SIGNER_SETTINGS, on=_local_authority)
def get_service_signer() -> ServiceSigner:
    """Loaded once per process and per signing configuration: parsing the key (or logging in to
    the HSM) is the expensive part of a signature. Rebuilt when a ``KEIYAKU_SIGNER_*`` setting
    or the local authority changes, so the signer in use always matches the settings; not
    cached when loading fails: the next call tries again."""
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
    """The certificates whose signatures are this keiyaku's own: the configured signer's, that
    of keiyaku's own authority (used before an external one was configured), and every other
    one it has signed with (``ServiceCertificate``: an earlier external certificate or HSM key,
    issue 13's rotation)."""
    from keiyaku.signing.models import ServiceCertificate

    certs = [get_service_signer().cert, get_authority().signer_cert]
    known = {cert.sha256.hex() for cert in certs}
    for der in ServiceCertificate.objects.exclude(sha256__in=known).values_list("der", flat=True):
        certs.append(x509.Certificate.load(bytes(der)))
    return certs


def service_certificate_record(cert: x509.Certificate) -> None:
    """Record ``cert`` (the signer about to sign) as one of this keiyaku's signing certificates:
    one indexed lookup per signing job, an insert the first time. Call it before the signature,
    so that no signed document can name a certificate that is not recorded."""
    from keiyaku.signing.models import ServiceCertificate

    ServiceCertificate.objects.get_or_create(
        sha256=cert.sha256.hex(),
        defaults={"der": cert.dump(), "subject": cert.subject.human_friendly[:500]},
    )


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
