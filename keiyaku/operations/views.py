"""The platform operator's pages: the status page (queue depth, failed jobs, undelivered
mail) and the maintenance notices."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku.accounts.permissions import operator_required
from keiyaku.audit.services import RequestMeta
from keiyaku.operations import services
from keiyaku.operations.forms import MaintenanceNoticeForm
from keiyaku.operations.models import MaintenanceNotice
from keiyaku.operations.notices import SHOW_DAYS_BEFORE
from keiyaku.operations.selectors import MAIL_LATE_MINUTES, operator_overview
from keiyaku.web.refusals import attempt


@operator_required
def operator_status(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "operations/status.html",
        {"overview": operator_overview(), "late_minutes": MAIL_LATE_MINUTES},
    )


@operator_required
def maintenance_notices(request: HttpRequest) -> HttpResponse:
    form = MaintenanceNoticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        posted = attempt(
            request,
            lambda: services.maintenance_notice_post(
                actor=request.user,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                text=data["text"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("お知らせを掲載し、各団体の管理者にメールで知らせました。"),
        )
        if posted.ok:
            return redirect("operator-notices")
    notices = MaintenanceNotice.objects.filter(ends_at__gt=timezone.now()).order_by("starts_at")
    return render(
        request,
        "operations/notices.html",
        {"form": form, "notices": notices, "days_before": SHOW_DAYS_BEFORE},
        status=400 if form.errors else 200,
    )


@operator_required
@require_POST
def maintenance_notice_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(MaintenanceNotice, pk=pk)
    attempt(
        request,
        lambda: services.maintenance_notice_withdraw(
            actor=request.user, notice=notice, meta=RequestMeta.from_request(request)
        ),
        success=_("お知らせを取り下げました。"),
    )
    return redirect("operator-notices")
