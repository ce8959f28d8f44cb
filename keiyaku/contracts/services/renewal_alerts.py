"""Renewal alerts (R31): mail a concluded contract's department before its period ends and, for
an automatically renewed contract, before its notice deadline.

Which contracts: concluded ones (`CONTRACT_CONCLUDED`) that are not renewed. Never a draft, a
running, rejected, cancelled or expired contract. *Renewed* means either of:

- a later contract renews it (`Contract.renews`, made with 「更新の契約として複製」) and that
  renewal is drafted, running or concluded (one rejected, cancelled or expired does not count:
  the contract still needs renewing);
- its dates moved (`term.contract_term_change`): an alert is about one date, so the alerts of
  the old period end stop, and the new date gets its own alerts when they fall due.

When: the organisation's days (`Organisation.renewal_alert_days`, e.g. 60, 30, 7) before each
date, counted in JST. On a day when several of them have passed (a contract entered late, a
worker down for days) only the nearest is sent: one mail, not three at once.

Once: each alert is a `RenewalAlert` row, unique per contract, date kind, days before and date,
inserted in the transaction that queues its mails and its audit entry, so reruns and two workers
at once send it once (the second insert fails on the constraint and sends nothing).

Who: the active staff with the sender role in the contract's department; without any, the
contract's creator (if active), else the organisation's admins. The mail is the one
`mail_table.MAIL_TABLE` names for `MailEvent.RENEWAL_DUE` and the sender.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from keiyaku.accounts.models import RENEWAL_ALERT_MAX_DAYS, Role, Staff
from keiyaku.audit.services import audit_record
from keiyaku.contracts.mail_table import MailEvent, Recipient, mail_template
from keiyaku.contracts.models import Contract, RenewalAlert, RenewalAlertKind
from keiyaku.contracts.services.notify import absolute
from keiyaku.contracts.states import CONTRACT_CONCLUDED, CONTRACT_FINISHED
from keiyaku.notifications.services import mail_queue

log = logging.getLogger(__name__)

#: A renewal in one of these states does not count: the contract still needs renewing.
RENEWAL_FAILED = CONTRACT_FINISHED - CONTRACT_CONCLUDED


@dataclass(frozen=True)
class DueDate:
    """One date of a contract that alerts are about."""

    kind: RenewalAlertKind
    due: date

    @property
    def label(self) -> str:
        return str(self.kind.label)


def contracts_awaiting_renewal(contracts: QuerySet[Contract]) -> QuerySet[Contract]:
    """Of `contracts`, those renewal alerts concern: concluded and not renewed by a later
    contract (see the module's docstring). Callers narrow it by date."""
    live_renewal = Contract.objects.filter(renews=OuterRef("pk")).exclude(status__in=RENEWAL_FAILED)
    return contracts.filter(status__in=CONTRACT_CONCLUDED).exclude(Exists(live_renewal))


def contracts_due_within(contracts: QuerySet[Contract], *, first: date, last: date) -> QuerySet:
    """Of `contracts`, those awaiting renewal whose period end, or (automatically renewed) notice
    deadline, falls between `first` and `last` (dates, inclusive)."""
    return contracts_awaiting_renewal(contracts).filter(
        Q(period_end__gte=first, period_end__lte=last)
        | Q(auto_renew=True, notice_deadline__gte=first, notice_deadline__lte=last)
    )


def due_dates(contract: Contract) -> list[DueDate]:
    """The dates of `contract` alerts are about: the period end, and the notice deadline of an
    automatically renewed contract."""
    found = []
    if contract.auto_renew and contract.notice_deadline is not None:
        found.append(DueDate(RenewalAlertKind.NOTICE_DEADLINE, contract.notice_deadline))
    if contract.period_end is not None:
        found.append(DueDate(RenewalAlertKind.PERIOD_END, contract.period_end))
    return found


def alert_days_due(days: list[int], days_left: int) -> int | None:
    """Which of the organisation's `days` (before a date) is due with `days_left` days to go:
    the smallest that has been reached, or None (too early, or the date has passed)."""
    if days_left < 0:
        return None
    reached = [n for n in days if n >= days_left]
    return min(reached) if reached else None


def alert_recipients(contract: Contract) -> list[Staff]:
    """Who is told about `contract`: its department's active senders; else its creator (if
    active); else its organisation's active admins."""
    staff = Staff.objects.filter(organisation=contract.organisation_id, is_active=True)
    if contract.department_id is not None:
        senders = [
            s for s in staff.filter(department=contract.department_id) if s.has_role(Role.SENDER)
        ]
        if senders:
            return sorted(senders, key=lambda s: s.pk)
    if contract.created_by.is_active:
        return [contract.created_by]
    return sorted((s for s in staff if s.has_role(Role.ADMIN)), key=lambda s: s.pk)


def renewal_alerts_send(*, now: datetime | None = None) -> int:
    """The daily job (R31): send every renewal alert due on `now`'s day (JST). Returns how many
    alerts this run sent (an alert is one or more mails about one date of one contract).

    Safe to run again, and beside another run: each alert is claimed by inserting its
    `RenewalAlert` row (unique), in the transaction that queues its mails. `now` is a
    parameter for tests (a fake clock); by default the current time.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    candidates = contracts_due_within(
        Contract.objects.all(), first=today, last=today + timedelta(days=RENEWAL_ALERT_MAX_DAYS)
    ).select_related("organisation", "department", "created_by")
    sent = 0
    for contract in candidates.order_by("pk").iterator():
        days = [int(n) for n in contract.organisation.renewal_alert_days or []]
        for due in due_dates(contract):
            days_before = alert_days_due(days, (due.due - today).days)
            if days_before is not None and _alert_once(contract, due, days_before, now):
                sent += 1
    return sent


def _alert_once(contract: Contract, due: DueDate, days_before: int, now: datetime) -> bool:
    """Claim and send one alert; False when another run has already claimed it."""
    with transaction.atomic():
        recipients = alert_recipients(contract)
        try:
            with transaction.atomic():
                RenewalAlert.objects.create(
                    contract=contract,
                    kind=due.kind,
                    days_before=days_before,
                    due_date=due.due,
                    recipients=[s.email for s in recipients],
                    sent_at=now,
                )
        except IntegrityError:
            return False  # sent by an earlier run, or by another worker right now
        template = mail_template(MailEvent.RENEWAL_DUE, Recipient.SENDER)
        if template is not None:
            for staff in recipients:
                mail_queue(
                    organisation=contract.organisation,
                    contract=contract,
                    to=staff.email,
                    template=template,
                    context={
                        "contract": contract,
                        "organisation": contract.organisation,
                        "sender": staff,
                        "what": due.label,
                        "due": due.due,
                        "days_left": (due.due - timezone.localdate(now)).days,
                        "url": absolute(reverse("contract-detail", args=[contract.pk])),
                        "list_url": absolute(reverse("contract-renewals")),
                    },
                )
        audit_record(
            event="contract.renewal_alert",
            organisation=contract.organisation,
            subject=contract.audit_subject,
            detail={
                "kind": str(due.kind),
                "date": due.due.isoformat(),
                "days_before": days_before,
                "to": [s.email for s in recipients],
            },
        )
    log.info(
        "renewal alert %s %s -%sd for contract %s", due.kind, due.due, days_before, contract.pk
    )
    return True
