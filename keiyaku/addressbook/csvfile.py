"""The address book's CSV format. No database here; decoding and writing are keiyaku.excel_csv's.

Columns (header row): 会社名, 会社名カナ, 氏名, メールアドレス, 電話番号, 部署・役職.
Reading accepts UTF-8 (with or without BOM) and Shift_JIS (Windows' CP932, which Excel writes);
writing produces UTF-8 with BOM (Excel opens it correctly) or CP932.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku import excel_csv
from keiyaku.excel_csv import SHIFT_JIS, UTF8, CsvRefusal, decode
from keiyaku.text_input import TextRefusal, require_single_line

__all__ = ["SHIFT_JIS", "UTF8", "CsvError", "CsvRow", "check", "decode", "parse", "write"]

HEADER = ("会社名", "会社名カナ", "氏名", "メールアドレス", "電話番号", "部署・役職")
REQUIRED = ("会社名", "氏名", "メールアドレス")
FIELDS = ("company", "kana", "name", "email", "phone", "title")
# The columns' names as the screens say them (the file's header stays Japanese: HEADER).
FIELD_LABELS = {
    "company": gettext_lazy("会社名"),
    "kana": gettext_lazy("会社名カナ"),
    "name": gettext_lazy("氏名"),
    "email": gettext_lazy("メールアドレス"),
    "phone": gettext_lazy("電話番号"),
    "title": gettext_lazy("部署・役職"),
}
MAX_LENGTHS = {"company": 200, "kana": 200, "name": 200, "email": 254, "phone": 50, "title": 200}
MAX_ROWS = 5000

# The name the address book's views catch; the class is the one refusal of every CSV.
CsvError = CsvRefusal


@dataclass(frozen=True)
class CsvRow:
    line: int
    company: str = ""
    kana: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    title: str = ""
    errors: tuple[str, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str]:
        """What makes a contact a duplicate: the same e-mail address at the same company."""
        return (self.company.casefold(), self.email.casefold())


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def parse(text: str) -> list[CsvRow]:
    """The rows of the file, unchecked. The header names the columns; their order is free."""
    found = excel_csv.records(text)
    first = next(found, None)
    if first is None:
        raise CsvRefusal(_("CSVファイルが空です。"), code="empty")
    header = first.cells
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CsvRefusal(
            _("1行目に見出し（%(header)s）が必要です。見つからない列: %(missing)s")
            % {"header": "、".join(HEADER), "missing": "、".join(missing)},
            code="header",
        )
    # Column index of each field present in the header (kana, phone, title may be left out).
    columns = {FIELDS[HEADER.index(name)]: header.index(name) for name in HEADER if name in header}
    rows: list[CsvRow] = []
    for record in found:
        if len(rows) >= MAX_ROWS:
            raise CsvRefusal(
                _("一度に取り込めるのは%(rows)d行までです。") % {"rows": MAX_ROWS}, code="too_many"
            )
        cells = record.cells
        rows.append(
            CsvRow(
                line=record.line,
                company=_cell(cells, columns.get("company")),
                kana=_cell(cells, columns.get("kana")),
                name=_cell(cells, columns.get("name")),
                email=_cell(cells, columns.get("email")),
                phone=_cell(cells, columns.get("phone")),
                title=_cell(cells, columns.get("title")),
            )
        )
    if not rows:
        raise CsvRefusal(_("取り込む行がありません。"), code="no_rows")
    return rows


def check(rows: Sequence[CsvRow], *, existing: Iterable[tuple[str, str]] = ()) -> list[CsvRow]:
    """Each row with the reasons it cannot be imported. `existing`: keys already stored."""
    stored = set(existing)
    seen: dict[tuple[str, str], int] = {}
    checked = []
    for row in rows:
        errors = []
        if not row.company:
            errors.append(_("会社名がありません"))
        if not row.name:
            errors.append(_("氏名がありません"))
        if not row.email:
            errors.append(_("メールアドレスがありません"))
        else:
            try:
                validate_email(row.email)
            except ValidationError:
                errors.append(_("メールアドレスの形式が正しくありません"))
        try:
            require_single_line(
                **{
                    name: (label, getattr(row, name))
                    for name, label in zip(FIELDS, HEADER, strict=True)
                }
            )
        except TextRefusal as refusal:  # a quoted cell may hold a line break
            errors.append(refusal.message)
        for name in FIELDS:
            if len(getattr(row, name)) > MAX_LENGTHS[name]:
                errors.append(
                    _("%(label)sが長すぎます（%(max)d文字まで）")
                    % {"label": FIELD_LABELS[name], "max": MAX_LENGTHS[name]}
                )
        if row.company and row.email:
            if row.key in seen:
                errors.append(_("%(line)d行目と重複しています") % {"line": seen[row.key]})
            elif row.key in stored:
                errors.append(_("同じ会社・メールアドレスの連絡先がアドレス帳に登録済みです"))
            seen.setdefault(row.key, row.line)
        checked.append(replace(row, errors=tuple(errors)))
    return checked


def write(rows: Iterable[Sequence[str]], *, encoding: str = UTF8) -> bytes:
    """The CSV file: header and rows (see keiyaku.excel_csv.encode)."""
    return excel_csv.encode([HEADER, *rows], encoding=encoding)
