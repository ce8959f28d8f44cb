"""「更新・終了が近い契約」 (R31): concluded contracts whose period end or notice deadline falls
within a chosen window, as the staff member may see them (R29)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from keiyaku.accounts.models import Staff
from keiyaku.contracts.selectors import contracts_visible_to
from keiyaku.contracts.services.renewal_alerts import contracts_due_within, due_dates

#: The windows offered (days from today); the first is the default.
WINDOWS = (60, 30, 90, 180, 365)


class StaffRequest(HttpRequest):
    user: Staff


@login_required
def contract_renewals(request: StaffRequest) -> HttpResponse:
    """Contracts awaiting renewal (`contracts_due_within`) with a date between today (JST) and
    the chosen window's end, nearest first; each row says which date and how many days are
    left. An unknown window falls back to the default."""
    try:
        window = int(request.GET.get("days", ""))
    except ValueError:
        window = WINDOWS[0]
    if window not in WINDOWS:
        window = WINDOWS[0]
    today = timezone.localdate()
    last = today + timedelta(days=window)
    contracts = contracts_due_within(
        contracts_visible_to(request.user), first=today, last=last
    ).select_related("department")
    rows = []
    for contract in contracts:
        for due in due_dates(contract):
            if today <= due.due <= last:
                rows.append(
                    {
                        "contract": contract,
                        "what": due.label,
                        "kind": str(due.kind),
                        "date": due.due,
                        "days_left": (due.due - today).days,
                    }
                )
    rows.sort(key=lambda row: (row["date"], row["contract"].title))
    return render(
        request,
        "web/contract_renewals.html",
        {"rows": rows, "window": window, "windows": sorted(WINDOWS), "today": today},
    )
