from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """The attempts counted for one key (a scope and a client address or login ID) in its window.

    A row in the database, so every web process counts the same attempts. The window starts at
    the key's first attempt and ends at `expires_at`; rows long expired are deleted.
    """

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField()
    expires_at = models.DateTimeField(db_index=True)
