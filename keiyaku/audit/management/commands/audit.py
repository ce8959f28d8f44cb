"""`keiyaku audit verify` and `keiyaku audit archive` (R39)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from keiyaku.audit.models import Archive
from keiyaku.audit.services import ArchiveRefused, archive_verify, audit_archive, audit_verify


class Command(BaseCommand):
    help = "Check the audit log's hash chain, or archive entries older than the retention period."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="exit 0 on an intact chain, 1 naming the break")
        verify.add_argument("--archives", action="store_true", help="also check the archive files")
        archive = sub.add_parser("archive", help="move old entries to a file in the object storage")
        archive.add_argument("--older-than-days", type=int, default=None)

    def handle(self, *args, action: str, **options) -> None:
        if action == "verify":
            self._verify(archives=options["archives"])
        else:
            self._archive(options["older_than_days"])

    def _verify(self, *, archives: bool) -> None:
        if archives:
            prev_hash = ""
            for archive in Archive.objects.order_by("id"):
                report = archive_verify(archive, prev_hash)
                if not report.ok:
                    raise CommandError(
                        f"audit log broken at entry {report.broken_id}: {report.reason}"
                    )
                prev_hash = archive.last_hash
                self.stdout.write(f"archive {archive.path}: {report.checked} entries intact")
        report = audit_verify()
        if not report.ok:
            raise CommandError(f"audit log broken at entry {report.broken_id}: {report.reason}")
        self.stdout.write(f"audit log intact: {report.checked} entries")

    def _archive(self, days: int | None) -> None:
        try:
            archive = audit_archive(older_than_days=days)
        except ArchiveRefused as exc:
            raise CommandError(str(exc)) from exc
        if archive is None:
            self.stdout.write("nothing to archive")
        else:
            self.stdout.write(
                f"archived entries {archive.first_event_id}-{archive.last_event_id} "
                f"({archive.count}) to {archive.path} sha256={archive.sha256}"
            )
