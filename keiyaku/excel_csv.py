"""CSV files as Excel reads and writes them: every CSV keiyaku takes in or hands out.

Reading accepts UTF-8 (with or without BOM) and Shift_JIS as Windows and Excel write it (CP932);
writing gives UTF-8 with a BOM (so that Excel opens it as UTF-8) or CP932, with CRLF line ends.
Cells that a spreadsheet would run as a formula (starting with = + - @, a tab or CR) are written
with a leading apostrophe, and reading takes that apostrophe off again, so that an exported file
imports back unchanged. The column meanings belong to each importer; none are known here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from keiyaku.refusals import Refusal

UTF8 = "utf-8"
SHIFT_JIS = "shift_jis"
ENCODINGS = (UTF8, SHIFT_JIS)

BOM = b"\xef\xbb\xbf"
# What makes Excel (and LibreOffice) read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CsvRefusal(Refusal):
    """The file as a whole cannot be read. Codes: `encoding`, `syntax`, or the importer's own."""

    default_code = "csv"


@dataclass(frozen=True)
class Record:
    """One non-blank record of the file: the line it starts on and its cells, trimmed."""

    line: int
    cells: list[str]


def decode(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 (BOM optional), else CP932.

    Raises CsvRefusal (code `encoding`) naming the line of the first byte neither reads.
    """
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        as_utf8 = exc.start
    try:
        # CP932 is Shift_JIS with the NEC and IBM extensions (髙, ①) that Windows writes.
        return data.decode("cp932")
    except UnicodeDecodeError as exc:
        # The encoding that read further is the one the file was most likely meant to be in.
        where = max(as_utf8, exc.start)
        raise CsvRefusal(
            _(
                "文字コードを判別できません（%(line)d行目）。UTF-8 または Shift_JIS で保存したCSVファイルを選択してください。"
            )
            % {"line": data[:where].count(b"\n") + 1},
            code="encoding",
        ) from exc


def formula_safe(value: object) -> str:
    """A cell's text that a spreadsheet shows as text: text that looks like a formula gets a '.

    Text that would itself lose an apostrophe on reading (「'=x」, 「''」) gets one too, so
    that every text reads back as it was written. Only text is guarded: numbers and dates
    keiyaku writes itself are left as they are.
    """
    if not isinstance(value, str):
        return "" if value is None else str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) or _unguard(value) != value else value


def _unguard(value: str) -> str:
    """The cell as it was before `formula_safe`."""
    guarded = value.startswith("'") and value[1:].startswith((*FORMULA_STARTS, "'"))
    return value[1:] if guarded else value


def records(text: str) -> Iterator[Record]:
    """The records of a decoded file, skipping blank ones; cells trimmed, formula guards removed.

    Raises CsvRefusal (code `syntax`) with the line of a record the csv module cannot read.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvRefusal(
                _("CSVファイルの%(line)d行目を読み取れません。") % {"line": start},
                code="syntax",
            ) from exc
        line, start = start, reader.line_num + 1
        trimmed = [_unguard(cell.strip()) for cell in cells]
        if any(trimmed):
            yield Record(line=line, cells=trimmed)


def lines(rows: Iterable[Sequence[object]], *, encoding: str = UTF8) -> Iterator[bytes]:
    """The file piece by piece (for a streamed response): the BOM for UTF-8, then each row.

    Rows end in CRLF; every cell is `formula_safe`. Shift_JIS puts "?" for what it lacks.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding: {encoding}")
    if encoding == UTF8:
        yield BOM
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([formula_safe(value) for value in row])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        yield text.encode("cp932", errors="replace") if encoding == SHIFT_JIS else text.encode()


def encode(rows: Iterable[Sequence[object]], *, encoding: str = UTF8) -> bytes:
    """The whole file at once; see `lines`."""
    return b"".join(lines(rows, encoding=encoding))
