"""Webhooks (R40): an organisation's endpoints, the events queued for them, each attempt.

An endpoint is a URL of the organisation's own system (文書管理, 財務会計, 電子入札) with the
events it wants. Each event a contract service records is one `WebhookDelivery` row per
endpoint that chose it, with its own event id and the exact JSON body sent on every attempt;
each attempt is a `WebhookAttempt` row (the delivery log). Secrets are sealed with the master
key (`*_sealed`, re-sealed by a master key rotation: keiyaku.storage.rotation).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.TextChoices):
    """What an endpoint may subscribe to: the moments the contract services record."""

    SENT = "sent", _("送信（署名依頼）")
    VIEWED = "viewed", _("署名依頼の開封")
    AGREED = "agreed", _("同意")
    APPROVED = "approved", _("承認")
    COMPLETED = "completed", _("締結完了")
    REJECTED = "rejected", _("却下")
    CANCELLED = "cancelled", _("取消")
    EXPIRED = "expired", _("期限切れ")
    FORWARDED = "forwarded", _("転送")
    DELIVERY_FAILED = "delivery_failed", _("メール不達")
    RENEWED = "renewed", _("タイムスタンプの更新（長期署名の延長）")


#: The type of the event 「テスト送信」 sends; no endpoint subscribes to it.
TEST_EVENT = "test"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("送信待ち・再試行待ち")
    DELIVERED = "delivered", _("配信済み")
    FAILED = "failed", _("配信失敗（再試行終了）")


class WebhookEndpoint(models.Model):
    """One receiving URL of an organisation, with the events it chose."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="webhook_endpoints"
    )
    name = models.CharField(_("名前"), max_length=100)
    url = models.CharField(_("送信先URL"), max_length=500)
    events = models.JSONField(default=list)  # WebhookEvent values
    # The signing secret (shown once), sealed with the master key (purpose "webhook-secret").
    secret_sealed = models.TextField()
    # During a rotation, the secret before it, valid until `previous_secret_until`; then dropped.
    previous_secret_sealed = models.TextField(blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Health: consecutive failed attempts, since when, the last error; reset by a 2xx.
    failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_failing(self) -> bool:
        """Shown to admins: KEIYAKU_WEBHOOK_FAILING_AFTER attempts in a row have failed."""
        return self.failures >= settings.KEIYAKU_WEBHOOK_FAILING_AFTER

    @property
    def event_labels(self) -> list[str]:
        labels = dict(WebhookEvent.choices)
        return [str(labels[e]) for e in self.events if e in labels]


class WebhookDelivery(models.Model):
    """One event for one endpoint: its id, type, body, and where its delivery stands."""

    event_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=20)
    contract = models.ForeignKey(
        "contracts.Contract", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()  # the JSON sent, byte for byte the same on every attempt
    created_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # The attempts made before the last 「再送」: the retry schedule counts from there.
    series_start = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    @property
    def is_pending(self) -> bool:
        return self.status == DeliveryStatus.PENDING

    @property
    def is_failed(self) -> bool:
        return self.status == DeliveryStatus.FAILED

    @property
    def last_attempt(self) -> WebhookAttempt | None:
        """The latest attempt (from the prefetched log, when the selector prefetched it)."""
        attempts = list(self.attempt_log.all())
        return attempts[-1] if attempts else None

    @property
    def event_label(self) -> str:
        if self.event_type == TEST_EVENT:
            return str(_("テスト送信"))
        return str(dict(WebhookEvent.choices).get(self.event_type, self.event_type))


class WebhookAttempt(models.Model):
    """One attempt to deliver: when, the receiver's status code or the error."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_once")
        ]

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
