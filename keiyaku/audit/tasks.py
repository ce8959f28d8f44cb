"""Periodic work on the audit log."""

from __future__ import annotations

import logging

from huey import crontab

from keiyaku.audit.services import ArchiveRefused, audit_archive
from keiyaku.jobs.periodic import periodic_task

logger = logging.getLogger(__name__)


@periodic_task(crontab(hour="3", minute="17"))
def archive_old_entries() -> None:
    """Daily: move entries past the retention period to an archive file (R39)."""
    try:
        archive = audit_archive()
    except ArchiveRefused as exc:
        # A broken chain is never archived away: it stays for someone to look at.
        logger.error("audit archive refused: %s", exc)
        return
    if archive is not None:
        logger.info("audit entries archived to %s (sha256 %s)", archive.path, archive.sha256)
