"""E-mailed links: unguessable tokens (192 bits), stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from keiyaku.contracts.models import Link, Party


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_issue(*, party: Party, purpose: str, days: int) -> str:
    """Create a link and return its token; the token itself is never stored."""
    token = secrets.token_urlsafe(24)
    Link.objects.create(
        party=party,
        purpose=purpose,
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return token


def link_find(token: str, *, purpose: str) -> Link | None:
    if not token or len(token) > 100:
        return None
    return (
        Link.objects.select_related("party__contract__organisation")
        .filter(token_hash=_hash(token), purpose=purpose)
        .first()
    )


def links_revoke(*, party: Party) -> None:
    Link.objects.filter(party=party, revoked_at__isnull=True).update(revoked_at=timezone.now())
