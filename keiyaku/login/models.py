"""Sign-in state: organisation policy, per-staff lockout and second factor, rate-limit marks."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class OidcMatch(models.TextChoices):
    EMAIL = "email", _("メールアドレス")
    USERNAME = "username", _("ログインID")


# The idle timeout an organisation may choose (ログイン設定), in minutes.
SESSION_TIMEOUT_MIN = 5
SESSION_TIMEOUT_MAX = 24 * 60


class OrganisationSignIn(models.Model):
    """An organisation's sign-in policy. No row means the defaults (no 2FA, no SSO)."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="signin"
    )
    totp_required = models.BooleanField(_("2段階認証（TOTP）を必須にする"), default=False)
    session_timeout_minutes = models.PositiveIntegerField(
        _("無操作でログアウトするまでの時間（分）"),
        default=60,
        validators=[
            MinValueValidator(SESSION_TIMEOUT_MIN),
            MaxValueValidator(SESSION_TIMEOUT_MAX),
        ],
    )
    oidc_enabled = models.BooleanField(_("OpenID Connect によるシングルサインオン"), default=False)
    oidc_issuer = models.URLField(_("発行者（Issuer）URL"), blank=True)
    oidc_client_id = models.CharField(_("クライアントID"), max_length=200, blank=True)
    # Sealed with the master key (keiyaku.storage.crypto.seal_text); never shown back on a screen.
    oidc_client_secret_sealed = models.TextField(blank=True)
    oidc_match = models.CharField(
        _("職員との照合方法"), max_length=10, choices=OidcMatch.choices, default=OidcMatch.EMAIL
    )
    oidc_create_users = models.BooleanField(_("初回ログイン時に職員を自動登録する"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def oidc_ready(self) -> bool:
        return bool(self.oidc_enabled and self.oidc_issuer and self.oidc_client_id)


class StaffSignIn(models.Model):
    """A staff member's failed-login counter, lock and TOTP secret."""

    staff = models.OneToOneField(
        "accounts.Staff", on_delete=models.CASCADE, related_name="signin_state"
    )
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    # Base32 secret sealed with the master key; empty when TOTP is not set up.
    totp_secret_sealed = models.TextField(blank=True)
    totp_enrolled_at = models.DateTimeField(null=True, blank=True)
    # The last 30-second step accepted: a code is never accepted twice.
    totp_last_step = models.BigIntegerField(null=True, blank=True)

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret_sealed and self.totp_enrolled_at)


class RecoveryCode(models.Model):
    """A single-use recovery code; only its salted SHA-256 is kept."""

    staff = models.ForeignKey("accounts.Staff", on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["staff", "code_hash"], name="recovery_code_unique")
        ]
