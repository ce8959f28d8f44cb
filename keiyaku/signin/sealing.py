"""Secrets kept in the database (TOTP seeds, OIDC client secrets) sealed with the master key.

AES-256-GCM with a key derived from KEIYAKU_MASTER_KEY for this purpose only, so a copy of the
database alone does not give anybody's second factor away.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"keiyaku signin sealing v1"


def _key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        settings.MASTER_KEY.encode()
    )


def seal(text: str, *, purpose: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key()).encrypt(nonce, text.encode(), purpose.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(token: str, *, purpose: str) -> str:
    """The sealed text; ValueError when it was sealed for another purpose or was altered."""
    raw = base64.b64decode(token)
    try:
        return AESGCM(_key()).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
    except InvalidTag as exc:
        raise ValueError("sealed value does not open") from exc
