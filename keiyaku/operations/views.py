"""The platform operator's page: queue depth, failed jobs, undelivered mail."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from keiyaku.accounts.permissions import operator_required
from keiyaku.operations.selectors import MAIL_LATE_MINUTES, operator_overview


@operator_required
def operator_status(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "operations/status.html",
        {"overview": operator_overview(), "late_minutes": MAIL_LATE_MINUTES},
    )
