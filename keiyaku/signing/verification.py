"""Verifying a PDF against the roots this deployment trusts (R25)."""

from __future__ import annotations

from datetime import datetime

from keiyaku.signing import engine
from keiyaku.signing.keys import get_revocation_data, get_trust_roots


def verify_pdf(data: bytes, *, at: datetime | None = None) -> engine.VerificationReport:
    """Every signature of `data`, judged with keiyaku's roots and its current revocation data."""
    crls, ocsps = get_revocation_data()
    return engine.verify(data, trust_roots=get_trust_roots(), at=at, crls=crls, ocsps=ocsps)
