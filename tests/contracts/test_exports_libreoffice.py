"""Acceptance 2 (issue 15): the search result's CSV opens in LibreOffice Calc (headless, as
Excel users' other spreadsheet) with its Japanese intact and its amounts as numbers, its
dates as dates, and a formula-looking cell as text. LibreOffice is a system package
(Makefile SYSTEM_PACKAGES: libreoffice-calc-nogui)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.test import Client

from keiyaku.contracts.models import Contract
from tests.contract_copies import copies
from tests.flow import draft_contract

pytestmark = [pytest.mark.django_db, pytest.mark.slow(seconds=15)]

NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _cells(xlsx: Path) -> dict[str, tuple[str | None, str]]:
    """Each cell of the first sheet: its reference -> (type attribute, text as stored)."""
    with zipfile.ZipFile(xlsx) as book:
        shared = [
            "".join(t.text or "" for t in si.iter(f"{{{NS['s']}}}t"))
            for si in ElementTree.fromstring(  # noqa: S314 - the file LibreOffice just wrote
                book.read("xl/sharedStrings.xml")
            ).findall("s:si", NS)
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))  # noqa: S314
    cells = {}
    for cell in sheet.iter(f"{{{NS['s']}}}c"):
        kind = cell.get("t")
        value = cell.findtext("s:v", default="", namespaces=NS)
        cells[cell.get("r", "")] = (kind, shared[int(value)] if kind == "s" else value)
    return cells


def test_libreoffice_reads_the_csv_with_japanese_numbers_and_dates(personas, tmp_path):
    source = draft_contract(personas.sender, title="令和8年度 髙橋橋梁 補修工事")
    Contract.objects.filter(pk=source.pk).update(
        amount=12_345_678,
        contract_date=dt.date(2026, 4, 1),
        counterparty_company="株式会社髙橋建設",
        note="=1+1",
    )
    copies(Contract.objects.get(pk=source.pk), 2)
    client = Client()
    client.force_login(personas.sender)
    response = client.get("/contracts/export.csv", {"amount_min": "1000000"})
    csv_file = tmp_path / "案件一覧.csv"
    csv_file.write_bytes(b"".join(response.streaming_content))

    profile = tmp_path / "profile"
    done = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--infilter=CSV:44,34,76,1",  # comma, double quote, UTF-8, from line 1
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path),
            str(csv_file),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    xlsx = tmp_path / "案件一覧.xlsx"
    assert done.returncode == 0 and xlsx.exists(), done.stdout + done.stderr
    cells = _cells(xlsx)
    header = {
        cells[ref][1]: re.sub(r"\d+", "", ref)
        for ref in cells
        if ref.endswith("1") and re.fullmatch(r"[A-Z]+1", ref)
    }
    amount, title, date, status, note = (
        header[name] for name in ("取引金額（円）", "案件名", "契約日", "状態", "備考")
    )
    for row in (2, 3, 4):
        kind, value = cells[f"{amount}{row}"]
        assert kind in (None, "n") and float(value) == 12_345_678  # a number, not text
        assert cells[f"{title}{row}"][1].startswith("令和8年度 髙橋橋梁 補修工事")
        assert cells[f"{status}{row}"] == ("s", "下書き")
        kind, value = cells[f"{date}{row}"]
        # A date is a serial number (days since 1899-12-30) in a date format.
        assert kind in (None, "n")
        assert dt.date(1899, 12, 30) + dt.timedelta(days=int(float(value))) == dt.date(2026, 4, 1)
        assert cells[f"{note}{row}"][0] == "s"  # text (with its guard), never a formula
    with zipfile.ZipFile(xlsx) as book:
        assert b"<f>" not in book.read("xl/worksheets/sheet1.xml")
