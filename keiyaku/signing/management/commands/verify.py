"""`keiyaku verify FILE.pdf [--json]`: check every signature of a PDF (R25).

Prints the same verdict as the public page (``keiyaku.signing.verdict``). Exit status 0 only
when the document was concluded on this keiyaku: every approval signature made by its signing
certificate, all intact, valid and trusted, the document unchanged since the last one; or when
it is a stored version of a contract imported into this keiyaku (R30: `imported`, found by its
SHA-256 in the installation's database), its document timestamps intact, valid and trusted; 1
otherwise (a timestamp only, other signers, or a failure); 2 when the file cannot be read; 3
when the validation ran out of its time or memory budget (``KEIYAKU_VALIDATION_SECONDS``,
``KEIYAKU_VALIDATION_MEMORY_MB``; issue 10 finding 7): nothing was concluded.
"""

import hashlib
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import DatabaseError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from keiyaku.contracts.models import Contract
from keiyaku.contracts.selectors import imported_version_at
from keiyaku.contracts.timefmt import jst_timestamp
from keiyaku.signing.verdict import SIGNATURE, ItemStatus, Outcome, Verdict
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


def _imported(verdict: Verdict, data: bytes) -> Contract | None:
    """The imported contract (R30) this file is a stored version of, when its only evidence,
    keiyaku's document timestamps, is intact, valid and trusted; None otherwise."""
    if verdict.outcome not in (Outcome.TIMESTAMP_ONLY, Outcome.OTHER_SIGNER):
        return None
    if verdict.report.error or not verdict.lines:
        return None
    timestamps = [line for line in verdict.lines if line.item.kind != SIGNATURE]
    if not timestamps or any(line.status != ItemStatus.INTACT for line in timestamps):
        return None
    try:
        return imported_version_at(hashlib.sha256(data).hexdigest())
    except DatabaseError:  # verifying without the installation's database: the file alone
        return None


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
        imported = _imported(verdict, data)
        if json:
            report = verdict.as_dict()
            if imported is not None:
                report.update(
                    verdict="imported",
                    ok=True,
                    imported={
                        "certificate_id": imported.certificate_id,
                        "imported_at": imported.imported_at.isoformat()
                        if imported.imported_at
                        else None,
                    },
                )
            self.stdout.write(_json_dumps(report))
        else:
            self._print(verdict, imported)
        sys.exit(0 if verdict.ok or imported is not None else 1)

    def _print(self, verdict: Verdict, imported: Contract | None = None) -> None:
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
        if imported is not None:
            write(
                f"RESULT: imported: concluded elsewhere, imported into this keiyaku on "
                f"{_when(imported.imported_at)} (ID {imported.certificate_id}) and timestamped; "
                "unchanged since"
            )
        else:
            write(f"RESULT: {_result(verdict)}")


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
