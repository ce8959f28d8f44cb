"""The sender's 「利用申出書を送る」 and the company's public form (no login)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.accounts.permissions import contract_editor_required
from keiyaku.applications import services
from keiyaku.applications.forms import ApplicationForm, SendForm
from keiyaku.applications.selectors import (
    APPLICATION_CLOSED_TEXT,
    ApplicationLinkState,
    ApplicationState,
    application_state,
)
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.selectors import contract_for
from keiyaku.web.refusals import attempt, form_errors_show, refusal_show

# A link that never existed is "not found"; one that did but cannot be used any more is "gone".
STATUS = {ApplicationLinkState.INVALID: 404}
# Refusals of a submission that mean the link is closed now: the closed page, as a conflict.
CLOSED_CODES = ("submitted", "expired", "not_draft")


class StaffRequest(HttpRequest):
    user: Staff


@contract_editor_required
@require_POST
def application_send(request: StaffRequest, contract_id: str) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    form = SendForm(request.POST)
    if not form.is_valid():
        form_errors_show(request, form)
        return redirect("contract-detail", contract.pk)
    attempt(
        request,
        lambda: services.application_send(
            contract=contract,
            actor=request.user,
            company=form.cleaned_data["company"],
            email=form.cleaned_data["email"],
            meta=RequestMeta.from_request(request),
        ),
        success=lambda application: (
            _("%(company)s（%(email)s）に利用申出書のリンクを送りました。")
            % {"company": application.company, "email": application.email}
        ),
    )
    return redirect("contract-detail", contract.pk)


def _closed(request: HttpRequest, state: ApplicationState, *, status: int | None = None):
    application = state.application
    submitted_at = application.submitted_at if application else None
    when = dateformat.format(timezone.localtime(submitted_at), "Y-m-d H:i") if submitted_at else ""
    return render(
        request,
        "applications/closed.html",
        {
            "state": state.state,
            "heading": state.state.label,
            "text": APPLICATION_CLOSED_TEXT.get(state.state, "") % {"when": when},
            "application": application,
            "contract": application.contract if application else None,
        },
        status=status or STATUS.get(state.state, 410),
    )


@never_cache
def application_form(request: HttpRequest, token: str) -> HttpResponse:
    state = application_state(token)
    if state.state != ApplicationLinkState.OK:
        return _closed(request, state)
    application = state.application
    assert application is not None
    contract = application.contract
    form = ApplicationForm(
        request.POST or None,
        initial={"company": application.company, "email": application.email},
    )
    if request.method == "POST" and form.is_valid():
        submitted = attempt(
            request,
            lambda: services.application_submit(
                application=application,
                answers=form.answers(),
                meta=RequestMeta.from_request(request),
            ),
            show=False,
        )
        if submitted.refusal is not None and submitted.refusal.code in CLOSED_CODES:
            return _closed(request, application_state(token), status=409)
        if submitted.refusal is not None:
            refusal_show(request, submitted.refusal, form=form)
        else:
            return render(
                request,
                "applications/done.html",
                {"application": application, "contract": contract},
            )
    return render(
        request,
        "applications/form.html",
        {
            "form": form,
            "application": application,
            "contract": contract,
            "statement": services.consent_statement(contract, record=False),
        },
        status=400 if form.is_bound else 200,
    )
