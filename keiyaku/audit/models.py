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


class ChainHead(models.Model):
    """The newest entry of the chain, updated with every entry (one row, pk=1).

    Deleting the newest entries leaves a chain that is consistent in itself; the head still
    names the entry that was last written, so `keiyaku audit verify` notices (docs/security.md).
    """

    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    count = models.BigIntegerField(default=0)


class Archive(models.Model):
    """Entries older than the retention period, moved to a file in the object storage (R39).

    ``path`` is the storage name (``audit-archive/…``); an archive written before issue 11
    records the absolute path of its file in the data folder instead.
    """

    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)
    count = models.PositiveIntegerField()
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
