"""`keiyaku verify FILE.pdf [--json]`: check every signature of a PDF (R25).

Exit status 0 only when every signature is intact, valid and trusted and the document is
unchanged since the last one; 1 otherwise; 2 when the file cannot be read.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from keiyaku.contracts.timefmt import jst_timestamp
from keiyaku.signing.verification import verify_pdf


def _when(value) -> str:
    return jst_timestamp(value) if value else "—"


class Command(BaseCommand):
    help = "Verify the signatures and timestamps of a PDF; exit 0 only if all are good."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--at", help="validate at this ISO 8601 time (e.g. a simulated future validation)"
        )

    def handle(self, *args, file: Path, json: bool = False, at: str | None = None, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            self.stderr.write(f"cannot read {file}: {exc}")
            sys.exit(2)
        when = parse_datetime(at) if at else None
        if at and when is None:
            self.stderr.write(f"--at: not an ISO 8601 time: {at}")
            sys.exit(2)
        if when is not None and timezone.is_naive(when):
            when = timezone.make_aware(when)
        report = verify_pdf(data, at=when)
        if json:
            self.stdout.write(_json_dumps(report.as_dict()))
        else:
            self._print(report)
        sys.exit(0 if report.ok else 1)

    def _print(self, report) -> None:
        write = self.stdout.write
        if report.error:
            write(f"error: {report.error}")
        for item in report.signatures:
            good = item.intact and item.valid and item.trusted and item.bottom_line
            write(f"[{'OK' if good else 'NG'}] {item.field_name} ({item.kind})")
            if item.reason:
                write(f"    reason:        {item.reason}")
            write(f"    signer:        {item.signer or '—'}")
            write(f"    timestamp:     {_when(item.timestamp_time)}")
            write(
                f"    intact/valid/trusted: {item.intact}/{item.valid}/{item.trusted}"
                f"  coverage: {item.coverage}  modification: {item.modification_level}"
            )
            if item.ltv is not None:
                write(f"    LTV:           {'OK' if item.ltv else 'NG'} {item.ltv_detail or ''}")
            if item.error:
                write(f"    error:         {item.error}")
        write(f"LTV (B-LTA): {'OK' if report.ltv_ok else 'NG'}")
        write("RESULT: OK" if report.ok else "RESULT: NG")


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
