"""When two e-mail addresses are the same mailbox, for matching an account to the parties its
address signed as (R3).

The domain is compared without case (RFC 5321 §2.4: domain names are case-insensitive); the
local part exactly, as RFC 5321 leaves its case to the receiving system. Matching more loosely
could give one mailbox the contracts of another on a system that tells the case apart.
"""

from __future__ import annotations


def address_normalise(email: str) -> str:
    """``email`` trimmed, its domain in lower case; the local part is kept as given."""
    local, at, domain = email.strip().rpartition("@")
    if not at:
        return email.strip()
    return f"{local}@{domain.lower()}"


def addresses_match(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name the same mailbox (see the module's docstring)."""
    return address_normalise(a) == address_normalise(b)
