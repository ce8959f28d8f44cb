"""Secrets at rest: sealed with the master key, bound to their purpose, tamper-evident."""

from __future__ import annotations

import base64

import pytest

from keiyaku.signin import sealing


def test_round_trip_and_purpose_binding():
    token = sealing.seal("JBSWY3DPEHPK3PXP", purpose="totp")
    assert "JBSWY3DPEHPK3PXP" not in token
    assert sealing.unseal(token, purpose="totp") == "JBSWY3DPEHPK3PXP"
    assert sealing.seal("x", purpose="totp") != sealing.seal("x", purpose="totp")  # fresh nonce
    with pytest.raises(ValueError):
        sealing.unseal(token, purpose="oidc-client-secret")


def test_altered_value_does_not_open():
    raw = bytearray(base64.b64decode(sealing.seal("secret", purpose="totp")))
    raw[-1] ^= 1
    with pytest.raises(ValueError):
        sealing.unseal(base64.b64encode(bytes(raw)).decode(), purpose="totp")


def test_another_master_key_does_not_open(settings):
    token = sealing.seal("secret", purpose="totp")
    settings.MASTER_KEY = "another master key"
    with pytest.raises(ValueError):
        sealing.unseal(token, purpose="totp")
