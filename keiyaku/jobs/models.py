from __future__ import annotations

from django.db import models


class Lease(models.Model):
    """Who holds a named piece of work (`contract:<uuid>`, `periodic:<task>:<minute>`) and until
    when. A row in the database, so every consumer process on every machine sees the same
    holder, whichever queue back end (SQLite file or Redis) carries the jobs.

    A lease ends at `expires_at` unless its holder renews it: a consumer killed with SIGKILL
    keeps nobody waiting longer than that.
    """

    key = models.CharField(max_length=200, primary_key=True)
    holder = models.CharField(max_length=100)
    expires_at = models.DateTimeField(db_index=True)
