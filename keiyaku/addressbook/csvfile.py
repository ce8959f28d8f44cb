"""The address book's CSV format, as Excel reads and writes it. No database here.

Columns (header row): 会社名, 会社名カナ, 氏名, メールアドレス, 電話番号, 部署・役職.
Reading accepts UTF-8 (with or without BOM) and Shift_JIS (Windows' CP932, which Excel writes);
writing produces UTF-8 with BOM (Excel opens it correctly) or CP932.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

HEADER = ("会社名", "会社名カナ", "氏名", "メールアドレス", "電話番号", "部署・役職")
REQUIRED = ("会社名", "氏名", "メールアドレス")
FIELDS = ("company", "kana", "name", "email", "phone", "title")
MAX_LENGTHS = {"company": 200, "kana": 200, "name": 200, "email": 254, "phone": 50, "title": 200}
MAX_ROWS = 5000

UTF8 = "utf-8"
SHIFT_JIS = "shift_jis"
ENCODINGS = (UTF8, SHIFT_JIS)

_BOM = b"\xef\xbb\xbf"


class CsvError(Exception):
    """The file as a whole cannot be read: the message is shown as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def decode(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 (BOM optional), else CP932."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # CP932 is Shift_JIS as Windows and Excel write it (with NEC and IBM extensions: 髙, ①).
        return data.decode("cp932")
    except UnicodeDecodeError as exc:
        raise CsvError(
            "文字コードを判別できません。UTF-8 または Shift_JIS で保存したCSVファイルを選択してください。"
        ) from exc


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def parse(text: str) -> list[CsvRow]:
    """The rows of the file, unchecked. The header names the columns; their order is free."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration as exc:
        raise CsvError("CSVファイルが空です。") from exc
    except csv.Error as exc:
        raise CsvError(f"CSVファイルを読み取れません: {exc}") from exc
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CsvError(
            "1行目に見出し（"
            + "、".join(HEADER)
            + "）が必要です。見つからない列: "
            + "、".join(missing)
        )
    # Column index of each field present in the header (kana, phone, title may be left out).
    columns = {FIELDS[HEADER.index(name)]: header.index(name) for name in HEADER if name in header}
    rows: list[CsvRow] = []
    try:
        for cells in reader:
            if not any(value.strip() for value in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise CsvError(f"一度に取り込めるのは{MAX_ROWS}行までです。")
            values = {name: _cell(cells, columns.get(name)) for name in FIELDS}
            rows.append(
                CsvRow(
                    line=reader.line_num,
                    company=values["company"],
                    kana=values["kana"],
                    name=values["name"],
                    email=values["email"],
                    phone=values["phone"],
                    title=values["title"],
                )
            )
    except csv.Error as exc:
        raise CsvError(f"CSVファイルを読み取れません（{reader.line_num}行目）: {exc}") from exc
    if not rows:
        raise CsvError("取り込む行がありません。")
    return rows


def check(rows: Sequence[CsvRow], *, existing: Iterable[tuple[str, str]] = ()) -> list[CsvRow]:
    """Each row with the reasons it cannot be imported. `existing`: keys already stored."""
    stored = set(existing)
    seen: dict[tuple[str, str], int] = {}
    checked = []
    for row in rows:
        errors = []
        if not row.company:
            errors.append("会社名がありません")
        if not row.name:
            errors.append("氏名がありません")
        if not row.email:
            errors.append("メールアドレスがありません")
        else:
            try:
                validate_email(row.email)
            except ValidationError:
                errors.append("メールアドレスの形式が正しくありません")
        for name, label in zip(FIELDS, HEADER, strict=True):
            if len(getattr(row, name)) > MAX_LENGTHS[name]:
                errors.append(f"{label}が長すぎます（{MAX_LENGTHS[name]}文字まで）")
        if row.company and row.email:
            if row.key in seen:
                errors.append(f"{seen[row.key]}行目と重複しています")
            elif row.key in stored:
                errors.append("同じ会社・メールアドレスの連絡先がアドレス帳に登録済みです")
            seen.setdefault(row.key, row.line)
        checked.append(replace(row, errors=tuple(errors)))
    return checked


def write(rows: Iterable[Sequence[str]], *, encoding: str = UTF8) -> bytes:
    """The CSV file: header and rows, CRLF line ends. Shift_JIS replaces what it lacks with "?"."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding: {encoding}")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    if encoding == SHIFT_JIS:
        return out.getvalue().encode("cp932", errors="replace")
    return _BOM + out.getvalue().encode("utf-8")
