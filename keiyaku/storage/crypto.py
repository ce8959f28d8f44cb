"""Envelope encryption (R43): each contract has its own data key, wrapped by the master key.

AES-256-GCM everywhere. A blob's id is bound in as associated data, so a ciphertext copied onto
another blob's name does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


def master_key_bytes(master_key: str) -> bytes:
    """Derive 32 bytes from the configured master key text (any length, any alphabet)."""
    try:
        raw = base64.urlsafe_b64decode(master_key + "=" * (-len(master_key) % 4))
        if len(raw) == 32:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(master_key.encode()).digest()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


def wrap_key(master: bytes, data_key: bytes, *, key_id: str) -> bytes:
    return seal(master, data_key, aad=f"keiyaku-data-key:{key_id}".encode())


def unwrap_key(master: bytes, wrapped: bytes, *, key_id: str) -> bytes:
    return open_sealed(master, wrapped, aad=f"keiyaku-data-key:{key_id}".encode())
