"""TOTP against the RFC 6238 test vectors, and the replay and drift rules."""

from __future__ import annotations

import base64

from keiyaku.login import totp

RFC_KEY = b"12345678901234567890"


def test_rfc6238_sha1_vectors():
    for unix_time, expected in [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ]:
        assert totp.hotp(RFC_KEY, totp.step_at(unix_time), digits=8) == expected


def test_verify_accepts_one_step_of_drift_and_refuses_replay():
    secret = base64.b32encode(RFC_KEY).decode()
    now = 1_700_000_000
    code = totp.totp(secret, now)
    step = totp.verify(secret, code, now)
    assert step == totp.step_at(now)
    assert totp.verify(secret, code, now + 30) == step  # the phone's clock was a little behind
    assert totp.verify(secret, code, now + 90) is None
    assert totp.verify(secret, code, now, after_step=step) is None  # a code is used once
    assert totp.verify(secret, "12345", now) is None
    assert totp.verify(secret, "abcdef", now) is None


def test_provisioning_uri_names_issuer_and_account():
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", account="sender", issuer="keiyaku テスト市")
    assert uri.startswith("otpauth://totp/keiyaku%20%E3%83%86")
    assert "secret=JBSWY3DPEHPK3PXP" in uri and "period=30" in uri and "digits=6" in uri


def test_random_secrets_are_160_bits_and_differ():
    a, b = totp.random_secret(), totp.random_secret()
    assert a != b and len(base64.b32decode(a)) == 20
