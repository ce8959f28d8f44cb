"""Verifying a PDF against the roots this deployment trusts (R25)."""

from __future__ import annotations

from datetime import datetime

from keiyaku.signing import engine
from keiyaku.signing.keys import get_revocation_data, get_service_certs, get_trust_roots
from keiyaku.signing.verdict import Verdict, classify


def verify_pdf(data: bytes, *, at: datetime | None = None) -> engine.VerificationReport:
    """Every signature of `data`, judged with keiyaku's roots and its current revocation data."""
    crls, ocsps = get_revocation_data()
    return engine.verify(data, trust_roots=get_trust_roots(), at=at, crls=crls, ocsps=ocsps)


def judge_pdf(data: bytes, *, at: datetime | None = None) -> Verdict:
    """What `data` proves: concluded on this keiyaku, signed by others, a timestamp only, or
    failed. The public page and `keiyaku verify` show this and nothing greener."""
    return classify(verify_pdf(data, at=at), service_certs=get_service_certs())
