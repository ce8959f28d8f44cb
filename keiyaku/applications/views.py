"""The sender's 「利用申出書を送る」 and the company's public form (no login)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.accounts.permissions import contract_editor_required
from keiyaku.applications import services
from keiyaku.applications.forms import ApplicationForm, SendForm
from keiyaku.applications.selectors import ApplicationState, application_state
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.selectors import contract_for
from keiyaku.web.refusals import attempt, form_errors_show, refusal_show

# A link that never existed is "not found"; one that did but cannot be used any more is "gone".
STATUS = {"invalid": 404, "submitted": 410, "cancelled": 410, "closed": 410, "expired": 410}
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
    return render(
        request,
        "applications/closed.html",
        {
            "state": state.state,
            "application": state.application,
            "contract": state.application.contract if state.application else None,
        },
        status=status or STATUS.get(state.state, 410),
    )


@never_cache
def application_form(request: HttpRequest, token: str) -> HttpResponse:
    state = application_state(token)
    if state.state != "ok":
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
