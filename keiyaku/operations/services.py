"""What the platform operator changes: maintenance notices (issue 14, Sapporo 8(5)).

Each service checks that the actor is the platform operator (an active superuser without an
organisation), runs in one transaction, writes its audit entry in it and queues its e-mail
on commit (keiyaku.notifications.services.mail_queue).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.permissions import is_operator
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.notifications.services import mail_queue
from keiyaku.operations.models import MaintenanceNotice
from keiyaku.operations.notices import notices_forget
from keiyaku.refusals import NotAllowed, Refusal
from keiyaku.text_input import require_text

TEXT_MAX = 1000
"""Characters a notice's text may have: a banner on every page, not a manual."""
LONGEST = timedelta(days=31)
"""The longest downtime one notice announces (a typing mistake in the year otherwise shows a
banner on every page for years)."""


class MaintenanceRefused(Refusal):
    """A maintenance notice keiyaku will not post or withdraw."""


def _require_operator(actor: Any) -> None:
    if not (is_operator(actor) and actor.organisation_id is None):
        raise NotAllowed(_("メンテナンスのお知らせを掲載できるのは運用者だけです。"))


def _admins() -> list[Staff]:
    """Every organisation's active admins (roles are a JSON list: filtered here, as
    accounts.services does, so that SQLite and PostgreSQL agree)."""
    staff = Staff.objects.filter(is_active=True, organisation__isnull=False).select_related(
        "organisation"
    )
    return [
        s for s in staff.order_by("organisation_id", "pk") if s.has_role(Role.ADMIN) and s.email
    ]


@transaction.atomic
def maintenance_notice_post(
    *,
    actor: Any,
    starts_at: datetime,
    ends_at: datetime,
    text: str,
    meta: RequestMeta = SYSTEM,
) -> MaintenanceNotice:
    """Announce planned downtime from `starts_at` to `ends_at` (aware datetimes) with `text`
    (Japanese, several lines allowed, at most `TEXT_MAX` characters).

    Shown on every staff and counterparty page from a week before `starts_at` until `ends_at`
    (keiyaku.operations.notices); mailed to every organisation's active admins after commit
    (issue 14, "Maintenance notices"); audited as ``maintenance.post``.

    Raises:
        NotAllowed: the actor is not the platform operator.
        MaintenanceRefused: empty or too long text (field ``text``), an end not after the
            start or already past, or a window longer than `LONGEST` (field ``ends_at``).
        TextRefusal: control characters in the text.
    """
    _require_operator(actor)
    text = text.strip()
    if not text:
        raise MaintenanceRefused(_("お知らせの本文を入力してください。"), field="text")
    if len(text) > TEXT_MAX:
        raise MaintenanceRefused(
            _("お知らせの本文は%(max)d文字以内で入力してください。") % {"max": TEXT_MAX},
            field="text",
        )
    require_text(text=("お知らせの本文", text))
    if ends_at <= starts_at:
        raise MaintenanceRefused(
            _("終了日時は開始日時より後にしてください。"), code="ends_before_start", field="ends_at"
        )
    if ends_at <= timezone.now():
        raise MaintenanceRefused(
            _("終了日時が過ぎています。"), code="ends_in_past", field="ends_at"
        )
    if ends_at - starts_at > LONGEST:
        raise MaintenanceRefused(
            _("1件のお知らせで告知できる停止期間は%(days)d日までです。") % {"days": LONGEST.days},
            code="too_long",
            field="ends_at",
        )
    notice = MaintenanceNotice.objects.create(
        starts_at=starts_at, ends_at=ends_at, text=text, posted_by=actor
    )
    audit_record(
        event="maintenance.post",
        actor=actor,
        subject=f"maintenance:{notice.pk}",
        detail={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "text": text},
        meta=meta,
    )
    for admin in _admins():
        mail_queue(
            organisation=admin.organisation,
            to=admin.email,
            template="maintenance_notice",
            context={
                "notice": notice,
                "staff": admin,
                "organisation": admin.organisation,
            },
        )
    notices_forget()
    transaction.on_commit(notices_forget)
    return notice


@transaction.atomic
def maintenance_notice_withdraw(
    *, actor: Any, notice: MaintenanceNotice, meta: RequestMeta = SYSTEM
) -> MaintenanceNotice:
    """Withdraw a notice (the downtime was cancelled): no page shows it from now on. No mail
    goes out. Audited as ``maintenance.withdraw``.

    Raises:
        NotAllowed: the actor is not the platform operator.
        MaintenanceRefused: the notice was withdrawn already (``already_withdrawn``).
    """
    _require_operator(actor)
    now = timezone.now()
    if not MaintenanceNotice.objects.filter(pk=notice.pk, withdrawn_at__isnull=True).update(
        withdrawn_at=now
    ):
        raise MaintenanceRefused(_("このお知らせは取り下げ済みです。"), code="already_withdrawn")
    notice.withdrawn_at = now
    audit_record(
        event="maintenance.withdraw", actor=actor, subject=f"maintenance:{notice.pk}", meta=meta
    )
    notices_forget()
    transaction.on_commit(notices_forget)
    return notice
