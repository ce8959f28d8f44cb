"""E-mailed links: unguessable tokens (192 bits), stored only as SHA-256.

A signing link lives exactly as long as its contract's signing deadline (issue 14: the deadline
is the one rule): it stops working when the deadline passes, and extending the deadline
(`contract_deadline_change`) extends every link already sent. A download link lives its own
number of days (KEIYAKU_DOWNLOAD_LINK_DAYS, R23).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.utils import timezone

from keiyaku.contracts.models import Link, LinkPurpose, Party


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_issue(*, party: Party, purpose: str, days: int | None = None) -> str:
    """Create a link and return its token; the token itself is never stored.

    `days` (download links only) is the link's life from now; a signing link records its
    contract's deadline, which is what `link_expiry` reads. Raises ValueError for a signing
    link given `days` or of a contract without a deadline (one not sent).
    """
    contract = party.contract
    if purpose == LinkPurpose.SIGN:
        if days is not None or contract.deadline is None:
            raise ValueError("a signing link lives until its contract's deadline")
        expires_at = contract.deadline
    else:
        if days is None:
            raise ValueError("a download link needs its number of days")
        expires_at = timezone.now() + timedelta(days=days)
    token = secrets.token_urlsafe(24)
    Link.objects.create(
        party=party, purpose=purpose, token_hash=_hash(token), expires_at=expires_at
    )
    return token


def link_expiry(link: Link) -> datetime:
    """When a link stops working: a signing link at its contract's deadline as it is now
    (extended or not), a download link at the end of its days."""
    deadline = link.party.contract.deadline
    if link.purpose == LinkPurpose.SIGN and deadline is not None:
        return deadline
    return link.expires_at


def link_find(token: str, *, purpose: str) -> Link | None:
    """The link behind a token, with what every counterparty page shows (its party, contract,
    organisation, department and sender: the deadline and contact block, issue 14)."""
    if not token or len(token) > 100:
        return None
    return (
        Link.objects.select_related(
            "party__contract__organisation",
            "party__contract__department",
            "party__contract__created_by",
            "party__forwarded_from",
        )
        .filter(token_hash=_hash(token), purpose=purpose)
        .first()
    )


def links_revoke(*, party: Party) -> None:
    Link.objects.filter(party=party, revoked_at__isnull=True).update(revoked_at=timezone.now())
