"""The CSV of contracts (R28 「検索結果をCSVで出力」, R34 契約一覧.csv): one row a contract.

Written through `keiyaku.excel_csv` (UTF-8 with a BOM, CRLF, formula-safe), in the shape a
spreadsheet reads without being told: amounts as plain digits (Excel and LibreOffice read a
number), dates as ``YYYY-MM-DD`` and times as ``YYYY-MM-DD HH:MM:SS`` in JST (both read as
dates), statuses and yes/no in Japanese. The column meanings are here and nowhere else:
`COLUMNS` names them, `contract_row` fills them, `row_values` reads a row back (the export's
round-trip test, and anyone importing the file elsewhere).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku import excel_csv
from keiyaku.contracts.models import Contract
from keiyaku.contracts.states import ContractStatus
from keiyaku.contracts.timefmt import JST

#: (key, header) of each column, in order.
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("management_number", gettext_lazy("管理番号")),
    ("title", gettext_lazy("案件名")),
    ("counterparty_company", gettext_lazy("相手方")),
    ("department", gettext_lazy("所属")),
    ("status", gettext_lazy("状態")),
    ("amount", gettext_lazy("取引金額（円）")),
    ("contract_date", gettext_lazy("契約日")),
    ("period_start", gettext_lazy("契約期間（開始）")),
    ("period_end", gettext_lazy("契約期間（終了）")),
    ("auto_renew", gettext_lazy("自動更新")),
    ("notice_deadline", gettext_lazy("更新拒絶の通知期限")),
    ("parties", gettext_lazy("署名者")),
    ("created_by", gettext_lazy("作成者")),
    ("created_at", gettext_lazy("作成日時")),
    ("sent_at", gettext_lazy("送信日時")),
    ("completed_at", gettext_lazy("締結日時")),
    ("imported_at", gettext_lazy("取込日時")),
    ("certificate_id", gettext_lazy("締結証明書ID")),
    ("note", gettext_lazy("備考")),
    ("id", gettext_lazy("契約ID")),
)

_DATES = ("contract_date", "period_start", "period_end", "notice_deadline")
_TIMES = ("created_at", "sent_at", "completed_at", "imported_at")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def header() -> list[str]:
    """The first row: each column's name, in the active language."""
    return [str(label) for _key, label in COLUMNS]


def _time(value: dt.datetime | None) -> str:
    return value.astimezone(JST).strftime(_TIME_FORMAT) if value is not None else ""


def contract_row(contract: Contract) -> list[object]:
    """``contract`` as one row of `COLUMNS`. Reads the contract's department, author and
    parties (`walk.contract_batches` brings them with the batch)."""
    values: dict[str, object] = {
        "management_number": contract.management_number,
        "title": contract.title,
        "counterparty_company": contract.counterparty_company,
        "department": contract.department.name if contract.department is not None else "",
        "status": str(ContractStatus(contract.status).label),
        "amount": contract.amount,  # an int: written as digits, read as a number
        "auto_renew": _("あり") if contract.auto_renew else _("なし"),
        "parties": "、".join(
            f"{party.company} {party.name}".strip() for party in contract.parties.all()
        ),
        "created_by": contract.created_by.label,
        "certificate_id": contract.certificate_id,
        "note": contract.note,
        "id": str(contract.pk),
    }
    for key in _DATES:
        day = getattr(contract, key)
        values[key] = day.isoformat() if day is not None else ""
    for key in _TIMES:
        values[key] = _time(getattr(contract, key))
    return [values[key] for key, _label in COLUMNS]


def csv_chunks(batches: Iterable[list[Contract]]) -> Iterator[bytes]:
    """The CSV file piece by piece: the BOM and header, then a piece per contract."""

    def rows() -> Iterator[Sequence[object]]:
        yield header()
        for batch in batches:
            for contract in batch:
                yield contract_row(contract)

    return excel_csv.lines(rows())


def row_values(cells: list[str]) -> dict[str, object]:
    """A row of the file read back (cells as `excel_csv.records` gives them): the key of each
    column to its value, amounts as int, dates as date, times as aware datetimes (JST), the
    status as its code. Raises ValueError for a cell that is not what the column holds."""
    values: dict[str, object] = dict(zip((key for key, _label in COLUMNS), cells, strict=True))
    values["amount"] = int(cells[5]) if cells[5] else None
    labels = {str(status.label): status.value for status in ContractStatus}
    values["status"] = labels[cells[4]]
    values["auto_renew"] = cells[9] == _("あり")
    for key in _DATES:
        text = str(values[key])
        values[key] = dt.date.fromisoformat(text) if text else None
    for key in _TIMES:
        text = str(values[key])
        values[key] = dt.datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=JST) if text else None
    return values
