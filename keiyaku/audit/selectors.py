"""Reads of the audit log, scoped to one organisation (R39)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from keiyaku.accounts.models import Organisation
from keiyaku.audit.models import Event
from keiyaku.contracts.timefmt import jst_days


def events_of(
    organisation: Organisation,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    actor_id: int | None = None,
    event: str = "",
    contract: str = "",
) -> QuerySet[Event]:
    """An organisation's entries, newest first; dates are whole days in JST, both included."""
    from keiyaku.contracts.models import Contract

    rows = Event.objects.filter(organisation=organisation).select_related("actor")
    start, end = jst_days(date_from, date_to)
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    if actor_id:
        rows = rows.filter(actor_id=actor_id)
    if event:
        rows = rows.filter(event=event)
    if contract:
        matches = Contract.objects.filter(organisation=organisation).filter(
            title__icontains=contract
        ) | Contract.objects.filter(
            organisation=organisation, management_number__icontains=contract
        )
        subjects = [f"contract:{pk}" for pk in matches.values_list("pk", flat=True)[:1000]]
        rows = rows.filter(subject__in=subjects)
    return rows.order_by("-id")
