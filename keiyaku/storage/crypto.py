"""Sealing with the master key (R43): one key derivation, one format, AES-256-GCM everywhere.

`seal(data, purpose=…, aad=…)` encrypts with a key derived from KEIYAKU_MASTER_KEY by HKDF-SHA256
with the purpose as its info, so that each use (a contract's data key, a TOTP seed, an OpenID
client secret) has its own key and a value sealed for one purpose never opens for another. The
associated data binds a value to where it belongs (a blob's id, a key ring's id).

Files are encrypted with their contract's own data key (envelope encryption): `seal_with` and
`open_with` take that key; the data key itself is sealed with the master key (`wrap_key`).

Formats, kept readable for ever:
- sealed bytes: b"\\x02" + 12-byte nonce + ciphertext and tag;
- sealed text (database columns): "v2:" + base64 of the sealed bytes;
- before this module (version 1): data keys wrapped as nonce + ciphertext (60 bytes) under the
  master key's own bytes, and texts as bare base64 under HKDF("keiyaku signin sealing v1")
  with the purpose as associated data. They still open; new values are never written so.
- a file: 12-byte nonce + ciphertext and tag under its contract's data key (unchanged).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE_BYTES = 12
VERSION = b"\x02"
TEXT_PREFIX = "v2:"
DATA_KEY_PURPOSE = "data-key"
# A version-1 wrapped data key: nonce, 32-byte key, 16-byte tag; a version-2 one has one more.
_V1_WRAPPED_BYTES = NONCE_BYTES + 32 + 16


class SealBroken(ValueError):
    """A sealed value does not open: another master key or purpose, or it was altered."""


def _derive(purpose: str) -> bytes:
    if not purpose:
        raise ValueError("a purpose is required")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"keiyaku:{purpose}".encode())
    return hkdf.derive(settings.MASTER_KEY.encode())


def seal_with(key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    """AES-256-GCM under `key` with a fresh nonce: nonce + ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_with(key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    """What `seal_with` sealed; SealBroken for another key, other `aad`, or altered bytes."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise SealBroken("sealed value does not open") from exc


def seal(data: bytes, *, purpose: str, aad: bytes = b"") -> bytes:
    """Seal with the master key's key for `purpose`; `aad` must be given again to open."""
    return VERSION + seal_with(_derive(purpose), data, aad=aad)


def open_sealed(sealed: bytes, *, purpose: str, aad: bytes = b"") -> bytes:
    """What `seal` sealed for the same purpose and `aad`; SealBroken otherwise."""
    if not sealed.startswith(VERSION):
        raise SealBroken("not a sealed value")
    return open_with(_derive(purpose), sealed[len(VERSION) :], aad=aad)


def seal_text(text: str, *, purpose: str) -> str:
    """A secret kept in a database column (TOTP seed, client secret), as text."""
    return TEXT_PREFIX + base64.b64encode(seal(text.encode(), purpose=purpose)).decode()


def open_text(token: str, *, purpose: str) -> str:
    """The secret of `seal_text`, or of version 1 (signin's sealing); SealBroken otherwise."""
    try:
        if token.startswith(TEXT_PREFIX):
            raw = base64.b64decode(token[len(TEXT_PREFIX) :], validate=True)
            return open_sealed(raw, purpose=purpose).decode()
        return _open_text_v1(base64.b64decode(token, validate=True), purpose=purpose).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise SealBroken("not a sealed value") from exc


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_key(data_key: bytes, *, key_id: str) -> bytes:
    """A contract's data key sealed with the master key, bound to its key ring's id."""
    return seal(data_key, purpose=DATA_KEY_PURPOSE, aad=key_id.encode())


def unwrap_key(wrapped: bytes, *, key_id: str) -> bytes:
    """The data key of `wrap_key`, or of a key ring written before it (version 1)."""
    if len(wrapped) == _V1_WRAPPED_BYTES:
        return open_with(_master_v1(), wrapped, aad=f"keiyaku-data-key:{key_id}".encode())
    return open_sealed(wrapped, purpose=DATA_KEY_PURPOSE, aad=key_id.encode())


# --- version 1, read only ------------------------------------------------------------------


def _master_v1() -> bytes:
    """The master key's bytes as version 1 used them: 32 base64 bytes, else its SHA-256."""
    key = settings.MASTER_KEY
    try:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        if len(raw) == 32:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(key.encode()).digest()


def _open_text_v1(raw: bytes, *, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"keiyaku signin sealing v1")
    return open_with(hkdf.derive(settings.MASTER_KEY.encode()), raw, aad=purpose.encode())
