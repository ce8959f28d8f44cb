"""Stored files: write-once blobs, each encrypted with its key ring's data key."""

from __future__ import annotations

import uuid

from django.db import models


class KeyRing(models.Model):
    """One data key, wrapped by the master key. Every contract has its own."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)


class Blob(models.Model):
    """An immutable stored file. A new version of anything is a new Blob."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    keyring = models.ForeignKey(KeyRing, on_delete=models.PROTECT, related_name="blobs")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100, default="application/pdf")
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def object_name(self) -> str:
        return f"blobs/{str(self.id)[:2]}/{self.id}"
