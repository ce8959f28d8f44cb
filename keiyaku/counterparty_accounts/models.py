"""A counterparty's account and the one-time links that sign it in (R3)."""

from __future__ import annotations

from django.db import models


class CounterpartyAccount(models.Model):
    """An e-mail address proven by a one-time link. It belongs to no organisation, holds no
    copy of any contract: what it lists is read from the parties that address signed as."""

    email = models.EmailField(unique=True)  # as `addresses.address_normalise` writes it
    created_at = models.DateTimeField()
    last_signed_in_at = models.DateTimeField(null=True, blank=True)
    # Base32 TOTP secret sealed with the master key (storage.crypto); empty without TOTP.
    totp_secret_sealed = models.TextField(blank=True)
    totp_enrolled_at = models.DateTimeField(null=True, blank=True)
    # The last 30-second step accepted: a code is never accepted twice.
    totp_last_step = models.BigIntegerField(null=True, blank=True)
    # Raised when TOTP is set up or removed: every session signed in before ends.
    session_epoch = models.PositiveIntegerField(default=0)

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret_sealed and self.totp_enrolled_at)


class SignInLink(models.Model):
    """A one-time sign-in (or registration) link mailed to an address; only its SHA-256 is kept.

    Used once (``used_at``), within KEIYAKU_ACCOUNT_LINK_MINUTES of being sent."""

    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
