"""CSV as Excel reads and writes it: encodings, refusals with their line, formula-safe cells."""

from __future__ import annotations

import csv

import pytest
from django.utils import translation

from keiyaku import excel_csv
from keiyaku.excel_csv import BOM, SHIFT_JIS, CsvRefusal
from keiyaku.refusals import Refusal

TEXT = "会社名,氏名\r\n株式会社髙橋建設,佐藤 ①子\r\n"  # 髙 and ① exist in CP932 only


def test_utf8_with_and_without_bom_and_cp932_decode_alike():
    assert excel_csv.decode(BOM + TEXT.encode()) == TEXT
    assert excel_csv.decode(TEXT.encode()) == TEXT
    assert excel_csv.decode(TEXT.encode("cp932")) == TEXT


def test_bytes_neither_encoding_reads_are_refused_with_their_line():
    data = "見出し\r\n一行目\r\n".encode() + b"\x82\xa0\xff\xfe\r\n"
    with pytest.raises(CsvRefusal) as caught:
        excel_csv.decode(data)
    refusal = caught.value
    assert isinstance(refusal, Refusal)
    assert refusal.code == "encoding"
    assert "文字コードを判別できません（3行目）" in refusal.message


def test_the_refusal_is_in_the_language_of_the_request():
    with translation.override("en"), pytest.raises(CsvRefusal) as caught:
        excel_csv.decode(b"a\n\x82\xa0\x81")
    assert "line 2" in caught.value.message
    assert "UTF-8" in caught.value.message


COLUMNS = {
    "name": ("氏名", "name"),
    "email": ("メールアドレス", "e-mail", "mail"),
    "note": ("備考",),
}


@pytest.mark.parametrize(
    ("language", "named"),
    [("ja", "氏名、メールアドレス、備考"), ("en", "name, e-mail, 備考")],
)
def test_missing_columns_are_named_by_a_heading_the_importer_accepts(language, named):
    """In English the missing columns are named by their ASCII heading where they have one."""
    data = "ふりがな\r\nやまだ\r\n".encode()
    with translation.override(language), pytest.raises(CsvRefusal) as refused:
        excel_csv.table(
            data, columns=COLUMNS, required=("name", "email", "note"), max_bytes=1000, what="職員"
        )
    assert refused.value.code == "columns"
    assert refused.value.message.endswith(named)


def test_records_skip_blank_lines_and_say_where_each_starts():
    text = '\ufeff見出し,備考\r\n\r\n , \r\n甲, 一 \r\n乙,"二行に\r\nまたがる"\r\n丙,三\r\n'
    found = list(excel_csv.records(text))
    assert [(r.line, r.cells) for r in found] == [
        (1, ["見出し", "備考"]),
        (4, ["甲", "一"]),
        (5, ["乙", "二行に\r\nまたがる"]),
        (7, ["丙", "三"]),
    ]


def test_an_unreadable_record_is_refused_with_its_line():
    text = "a,b\r\nc,d\r\n" + "x" * (csv.field_size_limit() + 1) + ",e\r\n"
    with pytest.raises(CsvRefusal) as caught:
        list(excel_csv.records(text))
    assert caught.value.code == "syntax"
    assert "3行目" in caught.value.message


def test_written_file_has_bom_crlf_and_formula_safe_cells():
    data = excel_csv.encode(
        [
            ["名前", "電話", "数"],
            ['=HYPERLINK("http://x")', "+81-3-1234-5678", -5],
            ["@SUM", "\tx", None],
        ]
    )
    assert data.startswith(BOM)
    text = data[len(BOM) :].decode()
    assert text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
    assert text.splitlines()[1] == '"\'=HYPERLINK(""http://x"")",\'+81-3-1234-5678,-5'
    assert text.splitlines()[2] == "'@SUM,'\tx,"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_guarded(start):
    assert excel_csv.formula_safe(start + "1") == "'" + start + "1"
    assert excel_csv.formula_safe("a" + start) == "a" + start


def test_an_exported_file_reads_back_unchanged():
    rows = [
        ["氏名", "電話"],
        ["髙橋", "+81-11-123-4567"],
        ["=1+1", "-"],
        ["'quoted", "@home"],
        # Text that starts with the guard itself: an apostrophe before a formula start or
        # before another apostrophe.
        ["'=1+1", "''"],
        ["''@x", "'"],
    ]
    data = excel_csv.encode(rows)
    back = [r.cells for r in excel_csv.records(excel_csv.decode(data))]
    assert back == rows


def test_shift_jis_output_has_no_bom_and_replaces_what_it_lacks():
    data = excel_csv.encode([["髙橋", "①", "😀"]], encoding=SHIFT_JIS)
    assert not data.startswith(BOM)
    assert data.decode("cp932") == "髙橋,①,?\r\n"


def test_lines_stream_row_by_row():
    pieces = list(excel_csv.lines([["a"], ["b"]]))
    assert pieces == [BOM, b"a\r\n", b"b\r\n"]
    with pytest.raises(ValueError):
        list(excel_csv.lines([["a"]], encoding="latin-1"))
