"""TOTP (RFC 6238) on HOTP (RFC 4226). No Django: secrets in, codes out."""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

from keiyaku.ascii_digits import is_ascii_digits

STEP_SECONDS = 30
DIGITS = 6


def random_secret() -> str:
    """160 random bits, base32 without padding, as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    secret = secret.strip().replace(" ", "").upper()
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(unix_time: float) -> int:
    return int(unix_time // STEP_SECONDS)


def totp(secret: str, unix_time: float) -> str:
    return hotp(_key(secret), step_at(unix_time))


def verify(
    secret: str, code: str, unix_time: float, *, after_step: int | None = None
) -> int | None:
    """The step the code belongs to (one step of clock drift either way), or None.

    A step at or before `after_step` (the last one accepted) is refused: no replay.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not is_ascii_digits(code):
        return None
    key = _key(secret)
    now = step_at(unix_time)
    for step in (now - 1, now, now + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI authenticator apps read (usually from a QR code)."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        }
    )
    return f"otpauth://totp/{label}?{query}"
