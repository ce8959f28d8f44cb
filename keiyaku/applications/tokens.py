"""The stored form of an application link's token."""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """SHA-256 (hex, 64 characters) of an application link's token: what the database keeps,
    so that the link itself is never stored. Shared by the services that issue a link and the
    selectors that look one up (kept apart from both, so neither imports the other)."""
    return hashlib.sha256(token.encode()).hexdigest()
