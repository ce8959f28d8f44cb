"""The monthly report through the API (R33, R40): per month and department, over the
contracts the token's member sees (`contracts.report.monthly_report`, R29)."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from ninja import Router

from keiyaku.api.common import ERRORS, actor
from keiyaku.api.schemas import MonthlyReportOut
from keiyaku.contracts.report import COLUMNS, Figures, monthly_report
from keiyaku.contracts.search import BadSearch
from keiyaku.web.views.report import ReportForm

router = Router(tags=["report"])


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _figures(figures: Figures) -> dict[str, object]:
    return {name: getattr(figures, name) for _title, name in COLUMNS}


@router.get("/monthly", response={200: MonthlyReportOut, **ERRORS}, summary="Monthly report")
def report_monthly(request: HttpRequest, first: str = "", last: str = ""):
    """``first`` and ``last`` as ``2026-04`` (both absent: the last twelve months; at most 36
    months). Per month and department those with anything to count, and per month the total:
    contracts sent, concluded, rejected, cancelled, expired and imported, the average days from
    sending to conclusion, signature jobs retried and given up, mails undelivered."""
    form = ReportForm({"first": first, "last": last})
    if not form.is_valid():
        field, messages = next(iter(form.errors.items()))
        raise BadSearch(messages[0], code="invalid", field=None if field == "__all__" else field)
    report = monthly_report(
        staff=actor(request),
        first_month=form.cleaned_data["first"],
        last_month=form.cleaned_data["last"],
    )
    return {
        "months": [_month(m) for m in report.months],
        "rows": [
            {
                "month": _month(row.month),
                "department": row.department,
                "figures": _figures(row.figures),
            }
            for row in report.rows
        ],
        "totals": [{"month": _month(m), "figures": _figures(f)} for m, f in report.totals.items()],
    }
