"""Dates as Japanese officials read them: JST, and the era (令和) where expected (R45)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")

# (first day, name) newest first; a date before Heisei is shown in the Western calendar only.
_ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"))


def jst_days(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """The times within the JST days ``first`` to ``last`` (both included; either may be
    None), as (start, end) for ``start <= t < end``: the start of ``first`` and of the day
    after ``last``, in UTC.

    An end is None where it restricts nothing: none given, or past every time a database
    can hold (0001-01-01 JST starts before year 1 in UTC; 9999-12-31 has no next day), so a
    date a form accepts never fails here. Raises nothing. Every search by JST days of a
    stored time reads here: the contract search's 締結日 (R28), the audit log's dates (R39).
    """

    def start_of(day: date) -> datetime | None:
        try:
            return datetime.combine(day, time.min, tzinfo=JST).astimezone(UTC)
        except OverflowError:
            return None

    start = start_of(first) if first is not None else None
    end = None
    if last is not None and last < date.max:
        end = start_of(last + timedelta(days=1))
    return start, end


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


def deadline_text(value: datetime, *, era: bool = False) -> str:
    """A signing deadline as a counterparty reads it (issue 14): in JST, with the weekday and
    the zone said, and with the Japanese era first where the organisation chooses it
    (`Organisation.deadline_wareki`): `2026年12月8日（火）23:59（日本時間）`, or
    `令和8年（2026年）12月8日（火）23:59（日本時間）`. In the active language (mails are
    rendered in the service's)."""
    from django.utils.translation import gettext, pgettext

    local = value.astimezone(JST)
    weekday = (
        pgettext("weekday", "月"),
        pgettext("weekday", "火"),
        pgettext("weekday", "水"),
        pgettext("weekday", "木"),
        pgettext("weekday", "金"),
        pgettext("weekday", "土"),
        pgettext("weekday", "日"),
    )[local.weekday()]
    parts = {
        "year": local.year,
        "month": local.month,
        "day": local.day,
        "weekday": weekday,
        "time": local.strftime("%H:%M"),
    }
    era_date = wareki(local.date())
    if era and not era_date[0].isascii():  # a date before Heisei has no era here
        parts["era"] = era_date[: era_date.index("年") + 1]
        return (
            gettext("%(era)s（%(year)s年）%(month)s月%(day)s日（%(weekday)s）%(time)s（日本時間）")
            % parts
        )
    return gettext("%(year)s年%(month)s月%(day)s日（%(weekday)s）%(time)s（日本時間）") % parts
