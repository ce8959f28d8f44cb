"""The `Keiyaku-Signature` header: HMAC-SHA256 over ``<timestamp>.<body>`` (docs/api.md,
"Webhooks").

    Keiyaku-Signature: t=1767225600,v1=5257a869…,v1=9c1d0e33…

``t`` is the Unix time (seconds) of the attempt; each ``v1`` is the lower-case hex HMAC-SHA256,
keyed with a secret's UTF-8 bytes, of the ASCII timestamp, a full stop and the body's bytes.
There is one ``v1`` per valid secret: the current one first, and during a rotation the previous
one too, so a receiver that still has the old secret keeps verifying until it is replaced. The
timestamp is signed with the body so that a recorded request cannot be replayed later with a
fresh time; receivers refuse an old ``t`` (docs: five minutes).

The scheme is the one Stripe and DocuSeal use, so receivers find libraries and examples for it.
No Django here: the test checks it against its own plain-`hmac` code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

HEADER = "Keiyaku-Signature"
SCHEME = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that says what the value is, not a secret


def secret_new() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes in URL-safe base64 (43 characters)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` + `body` under `secret` (its UTF-8 bytes)."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header's value: ``t=<timestamp>`` and one ``v1=<hex>`` per secret, in order.

    Raises:
        ValueError: no secret given.
    """
    if not secrets_:
        raise ValueError("at least one secret is needed")
    parts = [f"t={int(timestamp)}"] + [f"{SCHEME}={sign(s, timestamp, body)}" for s in secrets_]
    return ",".join(parts)
