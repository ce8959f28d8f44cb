"""What this keiyaku trusts and signs with, for the "about trust" page (issue 13).

A read-only summary of :mod:`keiyaku.signing.keys`: the trust roots (keiyaku's own root and
``KEIYAKU_TRUST_ROOTS``), the signing certificate with its chain, and the time-stamp
authorities. No TSA is asked anything here (a paid TSA bills every request).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from django.conf import settings

from keiyaku.pki.service import get_authority
from keiyaku.signing.keys import get_service_signer, get_trust_roots, issued_by_own_authority

__all__ = ["CertificateRow", "TrustOverview", "root_pem", "trust_overview"]


@dataclass(frozen=True)
class CertificateRow:
    """One certificate as the page shows it."""

    subject: str
    issuer: str
    sha256: str
    """SHA-256 of the DER certificate, upper-case hex in pairs separated by colons (as
    Acrobat and browsers show fingerprints)."""
    sha256_hex: str
    """The same, lower-case hex without separators (the download's name)."""
    not_before: dt.datetime
    not_after: dt.datetime
    own: bool
    """Issued by (or being) keiyaku's own authority."""


@dataclass(frozen=True)
class TrustOverview:
    roots: tuple[CertificateRow, ...]
    signer_chain: tuple[CertificateRow, ...]
    """The signing certificate first, then its issuers up to the root when known."""
    tsa_hosts: tuple[str, ...]
    """Host (and port) of each configured TSA, in the order they are asked."""
    own_tsa: CertificateRow | None
    """keiyaku's own TSA certificate, when its endpoint is among the TSAs."""


def _row(cert: asn1_x509.Certificate) -> CertificateRow:
    digest = cert.sha256.hex()
    validity = cert["tbs_certificate"]["validity"]
    return CertificateRow(
        subject=str(cert.subject.human_friendly),
        issuer=str(cert.issuer.human_friendly),
        sha256=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper(),
        sha256_hex=digest,
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        own=issued_by_own_authority(cert),
    )


def trust_overview() -> TrustOverview:
    """The page's content, read from the settings and certificates in use.

    Raises what :func:`keys.get_trust_roots` raises on an unreadable ``KEIYAKU_TRUST_ROOTS``
    file (``keiyaku check --deploy`` reports it before start).
    """
    signer = get_service_signer()
    registry = {c.dump(): c for c in signer.signer.cert_registry}
    roots = get_trust_roots()
    chain = [signer.cert]
    pool = [*registry.values(), *roots]
    while not chain[-1].self_issued and len(chain) < 6:
        issuer = next((c for c in pool if c.subject == chain[-1].issuer), None)
        if issuer is None:
            break
        chain.append(issuer)
    own_tsa_url = f"{settings.PUBLIC_URL}/pki/tsa"
    hosts = []
    for url in settings.KEIYAKU_TSA_URLS:
        parts = urlsplit(url)
        hosts.append(
            parts.hostname or "" if parts.port is None else f"{parts.hostname}:{parts.port}"
        )
    own_tsa = get_authority().tsa_cert if own_tsa_url in settings.KEIYAKU_TSA_URLS else None
    return TrustOverview(
        roots=tuple(_row(c) for c in roots),
        signer_chain=tuple(_row(c) for c in chain),
        tsa_hosts=tuple(hosts),
        own_tsa=_row(own_tsa) if own_tsa is not None else None,
    )


def root_pem(sha256_hex: str) -> tuple[str, bytes] | None:
    """(file name, PEM) of the trust root whose SHA-256 is ``sha256_hex``; None if none is."""
    for cert in get_trust_roots():
        if cert.sha256.hex() == sha256_hex.lower():
            name = str(cert.subject.native.get("common_name", "root"))
            safe = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name)
            return f"{safe.strip('-') or 'root'}.pem", pem.armor("CERTIFICATE", cert.dump())
    return None
