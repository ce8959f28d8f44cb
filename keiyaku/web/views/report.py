"""The monthly report (R33): on screen with a bar chart drawn on the server, and as CSV.

Every staff member may open it; what it counts is what they may see (`contracts.report`,
R29), so an admin's covers the whole organisation.
"""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku import excel_csv
from keiyaku.accounts.models import Staff
from keiyaku.contracts.report import (
    COLUMNS,
    MAX_MONTHS,
    MonthlyReport,
    month_range,
    monthly_report,
    report_csv_rows,
)
from keiyaku.text_input import TextInputForm
from keiyaku.web.bar_chart import Series, bar_chart_svg

MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


class StaffRequest(HttpRequest):
    user: Staff


class MonthInput(forms.TextInput):
    input_type = "month"


class ReportForm(TextInputForm):
    """The months a report covers, as 「2026-04」; both empty: the last twelve months."""

    first = forms.CharField(label=gettext_lazy("開始月"), required=False, widget=MonthInput)
    last = forms.CharField(label=gettext_lazy("終了月"), required=False, widget=MonthInput)

    def _month(self, name: str) -> date | None:
        text = self.cleaned_data[name].strip()
        if not text:
            return None
        found = MONTH.match(text)
        if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1900:
            raise forms.ValidationError(_("月は「2026-04」の形で入力してください。"))
        return date(int(found[1]), int(found[2]), 1)

    def clean_first(self) -> date | None:
        return self._month("first")

    def clean_last(self) -> date | None:
        return self._month("last")

    def clean(self) -> dict:
        data = super().clean() or {}
        today = timezone.localdate()
        last = data.get("last") or date(today.year, today.month, 1)
        first = data.get("first")
        if first is None:
            first = month_range(date(last.year - 1, last.month, 1), last)[1]
        if first > last:
            raise forms.ValidationError(_("開始月は終了月以前にしてください。"))
        if len(month_range(first, last)) > MAX_MONTHS:
            raise forms.ValidationError(
                _("一度に表示できるのは%(max)sか月までです。") % {"max": MAX_MONTHS}
            )
        data["first"], data["last"] = first, last
        return data


def _report(request: StaffRequest) -> tuple[ReportForm, MonthlyReport | None]:
    form = ReportForm(request.GET)
    if not form.is_valid():
        return form, None
    return form, monthly_report(
        staff=request.user,
        first_month=form.cleaned_data["first"],
        last_month=form.cleaned_data["last"],
    )


@login_required
def monthly_report_page(request: StaffRequest) -> HttpResponse:
    """「月次報告」: the table per month and department, the totals and a bar chart of what
    was sent and concluded each month. Bad months: the form says why (400)."""
    form, report = _report(request)
    chart = None
    if report is not None:
        labels = [f"{month:%Y-%m}" for month in report.months]
        totals = [report.totals[month] for month in report.months]
        chart = bar_chart_svg(
            title=_("月別の送信・締結件数"),
            groups=labels,
            series=[
                Series(_("送信"), "#4a7ab8", [t.sent for t in totals]),
                Series(_("締結"), "#3d9a5f", [t.concluded for t in totals]),
                Series(
                    _("却下・取消・期限切れ"),
                    "#c0504d",
                    [t.rejected + t.cancelled + t.expired for t in totals],
                ),
            ],
        )
    return render(
        request,
        "web/monthly_report.html",
        {"form": form, "report": report, "chart": chart, "columns": COLUMNS},
        status=400 if form.errors else 200,
    )


@login_required
def monthly_report_csv(request: StaffRequest) -> HttpResponse:
    """The same report as CSV (keiyaku.excel_csv: UTF-8 with BOM, CRLF, formula-safe)."""
    form, report = _report(request)
    if report is None:
        return monthly_report_page(request)
    first, last = form.cleaned_data["first"], form.cleaned_data["last"]
    response = HttpResponse(
        excel_csv.encode(report_csv_rows(report)),
        content_type="text/csv; charset=utf-8",
    )
    name = f"monthly-report-{first:%Y-%m}-{last:%Y-%m}.csv"
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
    return response
