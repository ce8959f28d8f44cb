"""What the platform operator keeps: maintenance notices (issue 14)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MaintenanceNotice(models.Model):
    """Planned downtime the platform operator announces: shown on every staff and counterparty
    page from `SHOW_DAYS_BEFORE` days before `starts_at` until `ends_at`
    (keiyaku.operations.notices), and mailed to every organisation's admins when posted
    (keiyaku.operations.services)."""

    starts_at = models.DateTimeField()
    """When the downtime begins ("from")."""
    ends_at = models.DateTimeField(db_index=True)
    """When it ends ("to"): the banner goes away then."""
    text = models.TextField()
    """What the operator tells everyone, in Japanese (several lines allowed)."""
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    """Set when the operator withdraws the notice (cancelled downtime): no longer shown."""

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="maintenance_notice_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} – {self.ends_at:%Y-%m-%d %H:%M}"
