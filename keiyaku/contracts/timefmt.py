"""Dates as Japanese officials read them: JST, and the era (令和) where expected (R45)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")

# (first day, name) newest first; a date before Heisei is shown in the Western calendar only.
_ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"))


def jst_timestamp(value: datetime) -> str:
    """`2026-04-01 10:56:22 +09:00`, the form used in signature reasons and certificates."""
    local = value.astimezone(JST)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + "+09:00"


def wareki(value: date) -> str:
    """`令和8年4月1日`; the first year is written 元年."""
    for start, name in _ERAS:
        if value >= start:
            year = value.year - start.year + 1
            year_text = "元" if year == 1 else str(year)
            return f"{name}{year_text}年{value.month}月{value.day}日"
    return f"{value.year}年{value.month}月{value.day}日"
