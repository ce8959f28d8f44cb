"""`keiyaku restore SRC`: a backup generation into an empty installation (R42)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from keiyaku.storage.backup import BackupRefused, backup_restore


class Command(BaseCommand):
    help = "Restore a backup (a backup folder's newest generation, or one generation) into an empty installation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("src", type=Path, help="a backup folder or one of its generations")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = backup_restore(source=options["src"])
        except BackupRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored {report.generation}: {report.objects} objects checked, "
            f"audit log {'intact' if report.audit_ok else 'BROKEN'} "
            f"({report.audit_entries} entries), {report.seconds:.1f} s"
        )
        if not report.audit_ok:
            self.stderr.write(
                "the audit chain was already broken in the backup: run keiyaku audit verify"
            )
