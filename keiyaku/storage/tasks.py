"""Periodic work on storage: the daily backup (R42)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from huey import crontab

from keiyaku.jobs.periodic import periodic_task
from keiyaku.storage.backup import BackupRefused, backup_create

logger = logging.getLogger(__name__)


@periodic_task(crontab(hour=str(settings.KEIYAKU_BACKUP_HOUR), minute="47"))
def backup_daily() -> None:
    """Daily, when KEIYAKU_BACKUP_DIR is set: a new generation there, the oldest rotated out.
    Every consumer's scheduler enqueues it; one of them runs it (keiyaku.jobs.periodic)."""
    if not settings.KEIYAKU_BACKUP_DIR:
        return
    try:
        report = backup_create(dest=Path(settings.KEIYAKU_BACKUP_DIR))
    except BackupRefused as exc:
        logger.error("backup refused: %s", exc)
        return
    logger.info(
        "backup %s: %d objects (%d new), %.1f s",
        report.generation,
        report.objects,
        report.objects_copied,
        report.seconds,
    )
