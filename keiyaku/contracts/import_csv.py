"""Bulk import (R30): a ZIP of PDFs and a CSV of metadata, one row per contract naming its
PDF file(s) in the ZIP, read as the staff CSV import reads its file (R35,
``accounts/csv_import.py``): Excel's encodings through ``keiyaku.excel_csv``, every bad row
reported with its line, column and reason, nothing saved (``import_plan``). The caller imports
a plan without errors with ``services.importing.contracts_import``.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from keiyaku import excel_csv
from keiyaku.accounts.models import Department, Staff
from keiyaku.ascii_digits import yen_int
from keiyaku.contracts.custom_fields import custom_fields_of
from keiyaku.contracts.services.importing import (
    ImportFile,
    ImportItem,
    ImportMetadata,
    import_metadata_check,
)
from keiyaku.excel_csv import CsvRefusal
from keiyaku.refusals import Refusal
from keiyaku.signing.importing import Importable, import_check
from keiyaku.signing.ingest import RefusedUpload

# Column key → accepted headings (the template uses the first one).
COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("案件名", "title"),
    "management_number": ("管理番号", "management number"),
    "counterparty_company": ("相手方", "相手方（会社名）", "counterparty"),
    "amount": ("取引金額（円）", "取引金額", "amount"),
    "contract_date": ("契約日", "contract date"),
    "period_start": ("契約期間（開始）", "period start"),
    "period_end": ("契約期間（終了）", "period end"),
    "auto_renew": ("自動更新", "auto renew"),
    "notice_deadline": ("更新拒絶の通知期限", "notice deadline"),
    "note": ("備考", "note"),
    "department": ("所属", "department"),
    "files": ("ファイル", "ファイル名", "files"),
}
REQUIRED = ("title", "files")
FILE_SPLIT = re.compile(r"[|;]")
"""Several files in one cell: 「契約書.pdf|別紙.pdf」 (a file name rarely holds | or ;)."""
_YES = {"はい", "あり", "有", "○", "〇", "1", "true", "yes", "y"}
_NO = {"", "いいえ", "なし", "無", "×", "0", "false", "no", "n"}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
MAX_ROWS = 1000


def template_csv(organisation_id: int | None = None) -> bytes:
    """The template offered for download: UTF-8 with BOM, so that Excel opens it correctly;
    the organisation's custom fields are columns after the usual ones (headed by their names),
    left empty in the examples."""
    custom = [f.label for f in custom_fields_of(organisation_id)]
    rows = _template_rows()
    return excel_csv.encode(
        [
            [*(COLUMNS[key][0] for key in COLUMNS), *custom],
            *([*row, *([""] * len(custom))] for row in rows),
        ]
    )


def _template_rows() -> list[list[str]]:
    return [
        [
            "庁舎清掃業務委託契約",
            "R6-契-0012",
            "株式会社札幌ビルサービス",
            "1980000",
            "2024-04-01",
            "2024-04-01",
            "2025-03-31",
            "はい",
            "2025-01-31",
            "紙で締結（原本は契約課で保管）",
            "契約課",
            "庁舎清掃_契約書.pdf",
        ],
        [
            "道路補修工事請負契約",
            "R6-土-0100",
            "北海道建設株式会社",
            "12500000",
            "2024-06-10",
            "2024-06-10",
            "2024-12-20",
            "いいえ",
            "",
            "",
            "",
            "道路補修_契約書.pdf|道路補修_仕様書.pdf",
        ],
    ]


@dataclass
class RowError:
    column: str
    """The column's heading as the template names it (「取引金額（円）」), or empty for the row."""
    message: str


@dataclass
class PlannedRow:
    line: int
    title: str = ""
    filenames: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    item: ImportItem | None = None

    def error(self, key: str, message: str) -> None:
        """``key``: a COLUMNS key, or a custom field's name (its column's heading)."""
        self.errors.append(RowError(COLUMNS[key][0] if key in COLUMNS else key, message))


@dataclass
class ImportPlan:
    rows: list[PlannedRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[PlannedRow]:
        return [row for row in self.rows if row.errors]

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.bad_rows and bool(self.rows)

    @property
    def items(self) -> list[ImportItem]:
        return [row.item for row in self.rows if row.item is not None]


def _zip_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its author saw it: Windows' Explorer writes names in CP932 without
    the UTF-8 flag, which zipfile reads as CP437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("cp932")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return unicodedata.normalize("NFC", name)


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    return {
        _zip_name(info): info
        for info in archive.infolist()
        if not info.is_dir() and not _zip_name(info).startswith("__MACOSX/")
    }


def import_plan(*, csv_data: bytes, zip_path: Path | bytes, actor: Staff) -> ImportPlan:
    """Check a bulk import against the actor's organisation: every row's metadata as a new
    contract's (``import_metadata_check``), its files named in the ZIP, and each named PDF as
    an import checks it (``signing.importing.import_check``, in budgeted children). Reports
    every problem with its line and column; saves nothing. Rule: R30 (the dry run of R35)."""
    plan = ImportPlan()
    try:
        read = excel_csv.table(
            csv_data,
            columns=COLUMNS,
            required=REQUIRED,
            max_bytes=settings.KEIYAKU_STAFF_CSV_MAX_BYTES,
            what=_("契約"),
        )
    except CsvRefusal as exc:
        plan.file_errors.append(exc.message)
        return plan
    header, body, positions = read.header, read.body, read.positions
    # The organisation's custom fields, by their names as column headings (issue 15).
    custom = {f.label.strip().lower(): f for f in custom_fields_of(actor.organisation_id)}
    custom_columns = {
        custom[h.strip().lower()].pk: i for i, h in enumerate(header) if h.strip().lower() in custom
    }
    labels = {f"custom_{f.pk}": f.label for f in custom.values()}
    if len(body) > MAX_ROWS:
        plan.file_errors.append(
            _("一度に取り込めるのは%(count)d行までです。") % {"count": MAX_ROWS}
        )
        return plan
    try:
        archive = zipfile.ZipFile(zip_path if isinstance(zip_path, Path) else _bytes_io(zip_path))
    except (zipfile.BadZipFile, OSError):
        plan.file_errors.append(_("ZIPファイルを読み取れません。"))
        return plan
    departments = {d.name: d for d in Department.objects.filter(organisation=actor.organisation)}
    with archive:
        members = _members(archive)
        used: dict[str, int] = {}
        for record in body:
            row = PlannedRow(line=record.line)
            cells = record.cells
            if len(cells) != len(header):
                row.error(
                    "",
                    _("列の数が見出しと違います（見出し%(expected)d列、この行%(found)d列）。")
                    % {"expected": len(header), "found": len(cells)},
                )
            values = {key: (cells[i] if i < len(cells) else "") for key, i in positions.items()}
            row.title = values.get("title", "")
            metadata = _metadata(row, values, departments)
            if metadata is not None:
                metadata = dataclasses.replace(
                    metadata,
                    custom_values={
                        pk: cells[i] if i < len(cells) else "" for pk, i in custom_columns.items()
                    },
                )
            files = _files(row, values.get("files", ""), members, archive, used)
            if metadata is not None:
                try:
                    import_metadata_check(metadata, actor=actor)
                except Refusal as refusal:
                    row.error(labels.get(refusal.field or "", _key_of(refusal)), refusal.message)
            if not row.errors and metadata is not None:
                row.item = ImportItem(
                    metadata=metadata,
                    files=[f for f, _checked in files],
                    checked=[c for _f, c in files],
                )
            plan.rows.append(row)
    return plan


def _bytes_io(data: bytes):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(data)


_FIELD_KEYS = {
    "title": "title",
    "period_end": "period_end",
    "amount": "amount",
    "department": "department",
    "notice_deadline": "notice_deadline",
    "management_number": "management_number",
    "counterparty_company": "counterparty_company",
    "note": "note",
}


def _key_of(refusal: Refusal) -> str:
    return _FIELD_KEYS.get(refusal.field or "", "")


def _metadata(
    row: PlannedRow, values: dict[str, str], departments: dict[str, Department]
) -> ImportMetadata | None:
    errors_before = len(row.errors)
    amount = None
    if values.get("amount", "").strip():
        amount = yen_int(values["amount"])
        if amount is None:
            row.error(
                "amount",
                _("「%(value)s」は金額（半角数字）ではありません。") % {"value": values["amount"]},
            )
    dates: dict[str, date | None] = {}
    for key in ("contract_date", "period_start", "period_end", "notice_deadline"):
        dates[key] = _date(row, key, values.get(key, ""))
    renew_text = unicodedata.normalize("NFKC", values.get("auto_renew", "")).strip().lower()
    auto_renew = renew_text in _YES
    if renew_text not in _YES and renew_text not in _NO:
        row.error("auto_renew", _("「はい」か「いいえ」で入力してください。"))
    department = None
    name = values.get("department", "")
    if name:
        department = departments.get(name)
        if department is None:
            row.error("department", _("所属「%(name)s」が登録されていません。") % {"name": name})
    for key, limit in (("title", 300), ("management_number", 100), ("counterparty_company", 200)):
        if len(values.get(key, "")) > limit:
            row.error(key, _("%(limit)d文字以内で入力してください。") % {"limit": limit})
    if not values.get("title", "").strip():
        row.error("title", _("案件名がありません。"))
    if len(row.errors) != errors_before:
        return None
    return ImportMetadata(
        title=values.get("title", ""),
        management_number=values.get("management_number", ""),
        counterparty_company=values.get("counterparty_company", ""),
        amount=amount,
        contract_date=dates["contract_date"],
        period_start=dates["period_start"],
        period_end=dates["period_end"],
        auto_renew=auto_renew,
        notice_deadline=dates["notice_deadline"],
        note=values.get("note", ""),
        department=department,
    )


def _date(row: PlannedRow, key: str, text: str) -> date | None:
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    match = _DATE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        row.error(key, _("「%(value)s」は日付（例: 2024-04-01）ではありません。") % {"value": text})
        return None


def _files(
    row: PlannedRow,
    cell: str,
    members: dict[str, zipfile.ZipInfo],
    archive: zipfile.ZipFile,
    used: dict[str, int],
) -> list[tuple[ImportFile, Importable]]:
    names = [unicodedata.normalize("NFC", n.strip()) for n in FILE_SPLIT.split(cell) if n.strip()]
    row.filenames = names
    if not names:
        row.error("files", _("ファイル名がありません。"))
        return []
    if len(names) > settings.KEIYAKU_MAX_FILES:
        row.error(
            "files", _("ファイルは%(count)d個までです。") % {"count": settings.KEIYAKU_MAX_FILES}
        )
        return []
    found = []
    for name in names:
        info = members.get(name)
        if info is None:
            by_base = [m for m in members if m.rsplit("/", 1)[-1] == name]
            if len(by_base) == 1:
                info = members[by_base[0]]
            elif by_base:
                row.error(
                    "files",
                    _("「%(name)s」がZIPの中に複数あります。フォルダー名から書いてください。")
                    % {"name": name},
                )
                continue
        if info is None:
            row.error("files", _("「%(name)s」がZIPの中にありません。") % {"name": name})
            continue
        first = used.setdefault(info.filename, row.line)
        if first != row.line:
            row.error(
                "files",
                _("「%(name)s」は%(line)d行目でも指定されています。")
                % {"name": name, "line": first},
            )
            continue
        if info.file_size > settings.KEIYAKU_MAX_FILE_BYTES:
            row.error(
                "files",
                _("%(name)s: ファイルサイズが上限（%(mb)sMB）を超えています。")
                % {"name": name, "mb": settings.KEIYAKU_MAX_FILE_BYTES // (1024 * 1024)},
            )
            continue
        try:
            with archive.open(info) as member:
                # The declared size may lie (a ZIP bomb): never read past the limit.
                data = member.read(settings.KEIYAKU_MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
            row.error("files", _("%(name)s: ZIPから取り出せません。") % {"name": name})
            continue
        try:
            checked = import_check(data, max_bytes=settings.KEIYAKU_MAX_FILE_BYTES)
        except (RefusedUpload, Refusal) as refusal:
            row.error("files", f"{name}: {refusal.message}")
            continue
        found.append((ImportFile(filename=name.rsplit("/", 1)[-1], data=data), checked))
    return found


__all__ = ["COLUMNS", "ImportPlan", "PlannedRow", "RowError", "import_plan", "template_csv"]
