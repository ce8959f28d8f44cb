"""`keiyaku verify FILE.pdf [--json]`: check every signature of a PDF (R25).

Prints the same verdict as the public page (``keiyaku.signing.verdict``). Exit status 0 only
when the document was concluded on this keiyaku: every approval signature made by its signing
certificate, all intact, valid and trusted, the document unchanged since the last one; 1
otherwise (a timestamp only, other signers, or a failure); 2 when the file cannot be read; 3
when the validation ran out of its time or memory budget (``KEIYAKU_VALIDATION_SECONDS``,
``KEIYAKU_VALIDATION_MEMORY_MB``; issue 10 finding 7): nothing was concluded.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from keiyaku.contracts.timefmt import jst_timestamp
from keiyaku.signing.verdict import ItemStatus, Outcome, Verdict
from keiyaku.signing.verification import BudgetExceeded, judge_pdf

# Only VALID says OK: it is given only in a document concluded on this keiyaku.
_MARKS = {
    ItemStatus.VALID: "OK",
    ItemStatus.INTACT: "--",
    ItemStatus.UNTRUSTED: "NG",
    ItemStatus.INVALID: "NG",
}


def _when(value) -> str:
    return jst_timestamp(value) if value else "—"


def _result(verdict: Verdict) -> str:
    if verdict.outcome == Outcome.CONCLUDED:
        return f"concluded: signed by this keiyaku service for {verdict.parties} parties"
    if verdict.outcome == Outcome.TIMESTAMP_ONLY:
        return "timestamp_only: not a contract concluded on keiyaku"
    if verdict.outcome == Outcome.OTHER_SIGNER:
        return "other_signer: signed, but not by this keiyaku service"
    if verdict.outcome == Outcome.UNSIGNED:
        return "unsigned: the PDF has no signature and no timestamp"
    if verdict.outcome == Outcome.UNREADABLE:
        return "unreadable: not a PDF, or too damaged to read"
    return "failed"


class Command(BaseCommand):
    help = "Verify the signatures and timestamps of a PDF; exit 0 only if keiyaku concluded it."

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
        try:
            verdict = judge_pdf(data, at=when)
        except BudgetExceeded as exc:
            self.stderr.write(f"{file}: not verified: {exc}")
            self.stdout.write("RESULT: over_budget")
            sys.exit(3)
        if json:
            self.stdout.write(_json_dumps(verdict.as_dict()))
        else:
            self._print(verdict)
        sys.exit(0 if verdict.ok else 1)

    def _print(self, verdict: Verdict) -> None:
        write = self.stdout.write
        report = verdict.report
        if report.error:
            write(f"error: {report.error}")
        for line in verdict.lines:
            item = line.item
            write(f"[{_MARKS[line.status]}] {item.field_name} ({item.kind}) {line.status}")
            if item.reason:
                write(f"    reason:        {item.reason}")
            write(f"    signer:        {item.signer or '—'}")
            write(f"    timestamp:     {_when(item.timestamp_time)}")
            write(
                f"    intact/valid/trusted: {item.intact}/{item.valid}/{item.trusted}"
                f"  coverage: {item.coverage}  modification: {item.modification_level}"
            )
            if item.ltv is not None:
                ltv = "NG" if not item.ltv else _MARKS[line.status]
                write(f"    LTV:           {ltv} {item.ltv_detail or ''}")
            if item.error:
                write(f"    error:         {item.error}")
        write(f"LTV (B-LTA): {'OK' if verdict.long_term else 'NG'}")
        write(f"RESULT: {_result(verdict)}")


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
