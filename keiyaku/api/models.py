"""API tokens of an organisation and the creating calls they repeated (R40)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    """What a token may do, on top of what its staff member may do (never more than that)."""

    READ = "read", _("読み取り")
    WRITE = "write", _("読み取りと変更")
    ADMIN = "admin", _("管理（職員・所属を含む）")


class ApiToken(models.Model):
    """A bearer token of one organisation, made by one of its admins.

    The token itself is shown once when it is made and never stored: ``digest`` is its keyed
    hash (HMAC-SHA256 under a key derived from the master key, `keiyaku.api.tokens`), and
    ``prefix`` its first characters, kept to tell tokens apart on the screen and in logs.

    The token acts as ``staff``: that member's visibility (R29) and rights (R2, R36), capped by
    ``scope``. ``organisation_wide`` records the admin's choice of the whole organisation's
    contracts: the token then acts as the admin who made it, and stops working when that
    member is no longer an active admin (an organisation-wide read is an admin's read).
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="api_tokens"
    )
    name = models.CharField(_("名前"), max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(_("権限"), max_length=10, choices=Scope.choices)
    staff = models.ForeignKey("accounts.Staff", on_delete=models.PROTECT, related_name="api_tokens")
    organisation_wide = models.BooleanField(_("組織全体"), default=False)
    created_by = models.ForeignKey("accounts.Staff", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(_("有効期限"))
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.Staff", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="api_token_unique_live_name",
            )
        ]

    def __str__(self) -> str:
        return self.name


class IdempotentRequest(models.Model):
    """A creating call made with an ``Idempotency-Key``: the key is taken by inserting this
    row (unique per token), so of two calls racing with one key exactly one runs; the other
    waits for its answer. ``fingerprint`` is the SHA-256 of the method, path and body: the
    same key with another body is refused (409). ``status`` is None while the first call
    runs; a call that fails leaves no row, so the key can be used again."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotent_request_unique_key")
        ]
