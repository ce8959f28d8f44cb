"""The monthly report (R33; Sapporo 6(2) of 5(2)ア): per month and per department, how many
contracts were sent, concluded, rejected, cancelled, expired and imported, the average days
from sending to conclusion, and the operating record (signature jobs that failed, mails that
could not be delivered).

Read through the visibility selector (R29): an admin's report covers the whole organisation,
anyone else's the contracts they may see, so the figures never tell a staff member about
contracts they could not open. Mails about no contract (a welcome mail) count only in an
admin's report, under 「所属なし」.

Months are calendar months in JST: a contract concluded at 23:59 JST on the last day of a month
counts in that month, though it is the same month's 14:59 in UTC. Each figure is dated by its
own event: sent by `sent_at`, concluded by `completed_at`, rejected, cancelled and expired by
`ended_at`, imported by `imported_at`, a failed job by its `occurred_at`, an undelivered mail by
when it was queued. Concluded counts contracts signed here only; an imported contract counts as
imported.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku.accounts.models import Department, Role, Staff
from keiyaku.contracts.models import ContractStatus, JobFailure
from keiyaku.contracts.selectors import contracts_visible_to
from keiyaku.contracts.states import CONTRACT_CONCLUDED
from keiyaku.contracts.timefmt import jst_days
from keiyaku.notifications.models import OutboxMessage, OutboxStatus

JST = ZoneInfo("Asia/Tokyo")

#: The longest span one report covers (months).
MAX_MONTHS = 36


@dataclass
class Figures:
    """The counts of one month and department (or a total)."""

    sent: int = 0
    concluded: int = 0
    rejected: int = 0
    cancelled: int = 0
    expired: int = 0
    imported: int = 0
    jobs_retried: int = 0
    """Signature jobs that failed and ran again."""
    jobs_failed: int = 0
    """Signature jobs that failed and were given up."""
    mails_undelivered: int = 0
    """Mails given up on (refused by the relay, or every retry failed)."""
    days_to_conclude: list[float] = field(default_factory=list)
    """Days from sending to conclusion of each concluded contract, for the average."""

    @property
    def average_days(self) -> float | None:
        """The average days from sending to conclusion, to one decimal; None without any."""
        if not self.days_to_conclude:
            return None
        return round(sum(self.days_to_conclude) / len(self.days_to_conclude), 1)

    def add(self, other: Figures) -> None:
        for f in fields(self):
            if f.name == "days_to_conclude":
                self.days_to_conclude.extend(other.days_to_conclude)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class ReportRow:
    month: date
    """The month's first day."""
    department: str
    figures: Figures


@dataclass(frozen=True)
class MonthlyReport:
    months: list[date]
    """Every month of the report, oldest first (first days)."""
    rows: list[ReportRow]
    """Per month and department, for those with anything to count; months oldest first,
    departments by name, 「所属なし」 last."""
    totals: dict[date, Figures]
    """Per month, over every department the report covers."""


def month_range(first: date, last: date) -> list[date]:
    """The first days of every month from `first`'s to `last`'s, inclusive."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _last_day(month: date) -> date:
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def _month_of(value: datetime | date) -> date:
    if isinstance(value, datetime):
        value = value.astimezone(JST)
    return date(value.year, value.month, 1)


def monthly_report(*, staff: Staff, first_month: date, last_month: date) -> MonthlyReport:
    """The report of the months from `first_month` to `last_month` (any day of each; inclusive)
    over the contracts `staff` may see (`contracts_visible_to`, R29). The caller keeps the span
    within MAX_MONTHS (`keiyaku.web.views.report` refuses longer ones)."""
    months = month_range(first_month, last_month)
    # The months' times in JST; an end past every time (December 9999) restricts nothing.
    start, end = jst_days(months[0], _last_day(months[-1]))
    within: dict[str, Any] = {
        op: value for op, value in (("gte", start), ("lt", end)) if value is not None
    } or {"isnull": False}
    visible = contracts_visible_to(staff)
    cells: dict[tuple[date, int | None], Figures] = defaultdict(Figures)

    def count(queryset: QuerySet, stamp: str, department: str, name: str) -> None:
        rows = (
            queryset.filter(**{f"{stamp}__{op}": value for op, value in within.items()})
            .annotate(month=TruncMonth(stamp, tzinfo=JST))
            .values("month", department)
            .annotate(n=Count("pk"))
        )
        for row in rows:
            figures = cells[(_month_of(row["month"]), row[department])]
            setattr(figures, name, getattr(figures, name) + row["n"])

    signed_here = visible.filter(imported_at__isnull=True)
    count(signed_here, "sent_at", "department", "sent")
    count(
        signed_here.filter(status__in=CONTRACT_CONCLUDED), "completed_at", "department", "concluded"
    )
    for status, name in (
        (ContractStatus.REJECTED, "rejected"),
        (ContractStatus.CANCELLED, "cancelled"),
        (ContractStatus.EXPIRED, "expired"),
    ):
        count(visible.filter(status=status), "ended_at", "department", name)
    count(visible, "imported_at", "department", "imported")
    failures = JobFailure.objects.filter(contract__in=visible)
    count(failures.filter(retried=True), "occurred_at", "contract__department", "jobs_retried")
    count(failures.filter(retried=False), "occurred_at", "contract__department", "jobs_failed")
    undelivered = OutboxMessage.objects.filter(status=OutboxStatus.FAILED)
    about = Q(contract__in=visible)
    if staff.has_role(Role.ADMIN) and staff.organisation_id is not None:
        about |= Q(contract__isnull=True, organisation=staff.organisation_id)
    count(undelivered.filter(about), "created_at", "contract__department", "mails_undelivered")

    concluded = signed_here.filter(
        status__in=CONTRACT_CONCLUDED,
        **{f"completed_at__{op}": value for op, value in within.items()},
        sent_at__isnull=False,
    ).values_list("department", "sent_at", "completed_at")
    for department, sent_at, completed_at in concluded:
        if sent_at is None or completed_at is None:
            continue
        days = (completed_at - sent_at).total_seconds() / 86400
        cells[(_month_of(completed_at), department)].days_to_conclude.append(days)

    names = dict(
        Department.objects.filter(organisation=staff.organisation_id).values_list("pk", "name")
    )
    unassigned = _("所属なし")

    def order(key: tuple[date, int | None]) -> tuple[date, int, str]:
        month, department = key
        if department is None:
            return (month, 1, "")
        return (month, 0, names.get(department, ""))

    rows = []
    for key in sorted(cells, key=order):
        month, dept = key
        label = unassigned if dept is None else names.get(dept, "")
        rows.append(ReportRow(month, label, cells[key]))
    totals = {month: Figures() for month in months}
    for (month, _department), figures in cells.items():
        totals[month].add(figures)
    return MonthlyReport(months=months, rows=rows, totals=totals)


#: The report's columns: heading and how a row's figures give the cell (CSV and screen).
COLUMNS: list[tuple[Promise, str]] = [
    (gettext_lazy("送信"), "sent"),
    (gettext_lazy("締結"), "concluded"),
    (gettext_lazy("却下"), "rejected"),
    (gettext_lazy("取消"), "cancelled"),
    (gettext_lazy("期限切れ"), "expired"),
    (gettext_lazy("取込"), "imported"),
    (gettext_lazy("平均締結日数"), "average_days"),
    (gettext_lazy("署名処理の失敗（再試行）"), "jobs_retried"),
    (gettext_lazy("署名処理の失敗（中止）"), "jobs_failed"),
    (gettext_lazy("不達メール"), "mails_undelivered"),
]


def report_csv_rows(report: MonthlyReport) -> list[list[object]]:
    """The report as CSV rows (keiyaku.excel_csv writes them): a heading, then each month and
    department, then each month's total (所属 「合計」). Numbers stay numbers; an average with
    nothing concluded is empty."""
    heading: list[object] = [_("月"), _("所属"), *[str(title) for title, _name in COLUMNS]]
    lines: list[list[object]] = [heading]

    def line(month: date, department: str, figures: Figures) -> list[object]:
        cells: list[object] = [f"{month:%Y-%m}", department]
        for _title, name in COLUMNS:
            value = getattr(figures, name)
            cells.append("" if value is None else value)
        return cells

    for row in report.rows:
        lines.append(line(row.month, row.department, row.figures))
    for month in report.months:
        lines.append(line(month, _("合計"), report.totals[month]))
    return lines
