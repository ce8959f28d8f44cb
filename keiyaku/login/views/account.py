"""A staff member's own sign-in settings: TOTP enrolment, recovery codes, password change."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordChangeView
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.login import services
from keiyaku.login.forms import CodeForm
from keiyaku.login.middleware import MFA_KEY
from keiyaku.login.views.login import enrol_form
from keiyaku.login.views.session import AFTER_CODES_KEY, NEW_CODES_KEY
from keiyaku.web.refusals import attempt


def _staff(request: HttpRequest) -> Staff:
    assert isinstance(request.user, Staff)
    return request.user


@login_required
def account_view(request: HttpRequest) -> HttpResponse:
    staff = _staff(request)
    state = services.state_for(staff)
    policy = services.policy_for(staff.organisation)
    return render(
        request,
        "login/account.html",
        {
            "state": state,
            "policy": policy,
            "codes_left": services.recovery_codes_left(staff),
            "form": CodeForm(),
        },
    )


@login_required
def account_enrol_view(request: HttpRequest) -> HttpResponse:
    staff = _staff(request)
    if services.state_for(staff).has_totp:
        return redirect("signin-account")
    response = enrol_form(request, staff, during_login=False)
    if isinstance(response, list):
        request.session[MFA_KEY] = "totp"
        request.session[NEW_CODES_KEY] = response
        request.session[AFTER_CODES_KEY] = str(reverse_lazy("signin-account"))
        return redirect("signin-recovery-codes")
    return response


@login_required
@require_POST
def recovery_codes_renew_view(request: HttpRequest) -> HttpResponse:
    renewed = attempt(
        request,
        lambda: services.recovery_codes_renew(
            staff=_staff(request), meta=RequestMeta.from_request(request)
        ),
    )
    if renewed.result is None:
        return redirect("signin-account")
    request.session[NEW_CODES_KEY] = renewed.result
    request.session[AFTER_CODES_KEY] = str(reverse_lazy("signin-account"))
    return redirect("signin-recovery-codes")


@login_required
@require_POST
def totp_remove_view(request: HttpRequest) -> HttpResponse:
    staff = _staff(request)
    form = CodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("確認コードを入力してください。"))
        return redirect("signin-account")
    meta = RequestMeta.from_request(request)
    verified = attempt(
        request,
        lambda: services.second_factor_verify(
            staff=staff, code=form.cleaned_data["code"], meta=meta
        ),
    )
    if not verified.ok:
        return redirect("signin-account")
    attempt(
        request,
        lambda: services.totp_remove(staff=staff, actor=staff, meta=meta),
        success=_("2段階認証を解除しました。"),
    )
    return redirect("signin-account")


@login_required
def recovery_codes_view(request: HttpRequest) -> HttpResponse:
    """The new recovery codes, shown once."""
    codes = request.session.pop(NEW_CODES_KEY, None)
    after = request.session.pop(AFTER_CODES_KEY, None) or str(reverse_lazy("contract-list"))
    if not codes:
        return redirect("signin-account")
    return render(request, "login/recovery_codes.html", {"codes": codes, "after": after})


class AuditedPasswordChangeView(PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Form) -> HttpResponse:
        response = super().form_valid(form)  # type: ignore[arg-type]
        staff = _staff(self.request)
        audit_record(
            event="password.change",
            organisation=staff.organisation,
            actor=staff,
            meta=RequestMeta.from_request(self.request),
        )
        return response
