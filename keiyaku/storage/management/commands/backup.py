"""`keiyaku backup DEST`: a new backup generation in DEST, older ones rotated (R42)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from keiyaku.storage.backup import BackupRefused, backup_create


class Command(BaseCommand):
    help = "Back up the database, stored objects, PKI files and audit archives into DEST."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dest", type=Path, help="the backup folder (created if missing)")
        parser.add_argument(
            "--keep", type=int, default=None, help="generations kept (KEIYAKU_BACKUP_KEEP, 8)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = backup_create(dest=options["dest"], keep=options["keep"])
        except BackupRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"backup {report.generation}: {report.objects} objects "
            f"({report.objects_copied} new, {report.bytes_copied} bytes), "
            f"database {report.database_bytes} bytes, {report.seconds:.1f} s"
        )
        for name in report.removed:
            self.stdout.write(f"removed generation {name}")
