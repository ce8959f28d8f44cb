"""`keiyaku export --organisation SLUG DEST`: everything an organisation holds, on disk (R34).

DEST ending in ``.zip`` is written as one ZIP file; any other DEST as a folder (empty or
missing), which holds nothing in memory per file and suits the largest organisations. The
manifest (目録.csv, SHA256SUMS) lists every file with its SHA-256: ``cd DEST && sha256sum -c
SHA256SUMS`` checks a folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from keiyaku.accounts.models import Organisation
from keiyaku.contracts.exports.services import organisation_export_write


class Command(BaseCommand):
    help = "Export an organisation's contracts, files, metadata and audit entries to DEST."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organisation", required=True, help="the organisation's slug (as in its URLs)"
        )
        parser.add_argument(
            "dest", type=Path, help="a folder (empty or missing), or a file name ending in .zip"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["organisation"]
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation is None:
            raise CommandError(f"no organisation with the slug {slug!r}")
        dest: Path = options["dest"]
        try:
            files = organisation_export_write(organisation=organisation, dest=dest)
        except FileExistsError as exc:
            raise CommandError(f"{dest} is in the way: give a missing or empty folder") from exc
        if files is None:
            self.stdout.write(
                f"exported {organisation.slug} to {dest} ({dest.stat().st_size} bytes)"
            )
        else:
            self.stdout.write(f"exported {organisation.slug} to {dest}: {files} files")
