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

from django.utils.translation import get_language
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


@dataclass(frozen=True)
class Table:
    """An importer's file read: its heading row, where each known column is, and its records."""

    header: list[str]
    positions: dict[str, int]
    """Column key → index in ``header`` (the first column whose heading names the key)."""
    body: list[Record]


def _heading_named(headings: tuple[str, ...], japanese: bool) -> str:
    """The heading a refusal names for a missing column: its first (Japanese) heading, or in
    another UI language its first heading in ASCII, which the importer accepts as well (R45)."""
    if japanese:
        return headings[0]
    return next((heading for heading in headings if heading.isascii()), headings[0])


def table(
    data: bytes,
    *,
    columns: dict[str, tuple[str, ...]],
    required: Sequence[str],
    max_bytes: int,
    what: str,
) -> Table:
    """An uploaded CSV with a heading row, as every importer reads it (R30, R35).

    Args:
        columns: column key → the headings that name it (case and surrounding spaces ignored).
        required: keys whose column must be there.
        max_bytes: the largest file accepted.
        what: what a row is, for the message when there is none (「職員」, 「契約」).

    Raises CsvRefusal: an empty or too large file, one that cannot be decoded or parsed,
    required columns missing (named), no row under the headings.
    """
    if not data.strip():
        raise CsvRefusal(_("CSVファイルが空です。"), code="empty")
    if len(data) > max_bytes:
        raise CsvRefusal(_("CSVファイルが大きすぎます。"), code="too_large")
    found = list(records(decode(data)))
    if not found:
        raise CsvRefusal(_("CSVファイルが空です。"), code="empty")
    header, body = found[0].cells, found[1:]
    wanted = {heading.lower(): key for key, headings in columns.items() for heading in headings}
    positions: dict[str, int] = {}
    for index, heading in enumerate(header):
        key = wanted.get(heading.strip().lower())
        if key is not None and key not in positions:
            positions[key] = index
    missing = [columns[key] for key in required if key not in positions]
    if missing:
        japanese = (get_language() or "ja").startswith("ja")
        named = [_heading_named(headings, japanese) for headings in missing]
        raise CsvRefusal(
            _("見出し行に必要な列がありません: %(columns)s")
            % {"columns": ("、" if japanese else ", ").join(named)},
            code="columns",
        )
    if not body:
        raise CsvRefusal(_("%(what)sの行がありません。") % {"what": what}, code="no_rows")
    return Table(header=header, positions=positions, body=body)


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
