"""The audit log (R39): append-only, hash-chained."""

from __future__ import annotations

from django.db import models

from keiyaku.audit.labels import event_label


class Event(models.Model):
    """One operation. Never updated or deleted; `hash` chains it to the previous entry."""

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT
    )
    actor = models.ForeignKey(
        "accounts.Staff", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=400, blank=True)
    subject = models.CharField(max_length=100, blank=True, db_index=True)
    event = models.CharField(max_length=60, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(db_index=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]

    @property
    def label(self) -> str:
        return event_label(self.event)
