"""Verifying a PDF against the roots this deployment trusts (R25), under the validation budget.

The validation itself runs in a child process (``keiyaku.signing.budget``, issue 10 finding 7):
the roots and revocation data are read here and handed to it as DER.
"""

from __future__ import annotations

from datetime import datetime

from keiyaku.signing import budget, engine
from keiyaku.signing.keys import get_revocation_data, get_service_certs, get_trust_roots
from keiyaku.signing.validation import verify_der
from keiyaku.signing.verdict import Verdict, classify

__all__ = ["BudgetExceeded", "judge_pdf", "verify_pdf"]

BudgetExceeded = budget.BudgetExceeded


def verify_pdf(data: bytes, *, at: datetime | None = None) -> engine.VerificationReport:
    """Every signature of `data`, judged with keiyaku's roots and its current revocation data.

    Raises :class:`BudgetExceeded` when the validation needs more than the configured time or
    memory (``KEIYAKU_VALIDATION_SECONDS``, ``KEIYAKU_VALIDATION_MEMORY_MB``).
    """
    crls, ocsps = get_revocation_data()
    roots = [cert.dump() for cert in get_trust_roots()]
    return budget.run(verify_der, data, trust_roots=roots, at=at, crls=crls, ocsps=ocsps)


def judge_pdf(data: bytes, *, at: datetime | None = None) -> Verdict:
    """What `data` proves: concluded on this keiyaku, signed by others, a timestamp only, or
    failed. The public page and `keiyaku verify` show this and nothing greener. Raises
    :class:`BudgetExceeded` as :func:`verify_pdf` does."""
    return classify(verify_pdf(data, at=at), service_certs=get_service_certs())
