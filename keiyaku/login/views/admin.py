"""Organisation administrators: sign-in settings and 「ログイン制限の解除」.

The same rule as every administration screen (`org_admin_required`): a member who is not an
admin gets 403; a staff member of another organisation is not found (404)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.accounts.permissions import org_admin_required
from keiyaku.audit.services import RequestMeta
from keiyaku.login import services
from keiyaku.login.forms import SignInSettingsForm
from keiyaku.login.services import PolicyValues
from keiyaku.web.refusals import attempt


def _admin(request: HttpRequest) -> Staff:
    """The administrator `org_admin_required` let through."""
    user = request.user
    assert isinstance(user, Staff) and user.organisation_id is not None
    return user


@org_admin_required
def settings_view(request: HttpRequest) -> HttpResponse:
    admin = _admin(request)
    assert admin.organisation is not None
    policy = services.policy_for(admin.organisation)
    initial = {
        "totp_required": policy.totp_required,
        "session_timeout_minutes": policy.session_timeout_minutes,
        "oidc_enabled": policy.oidc_enabled,
        "oidc_issuer": policy.oidc_issuer,
        "oidc_client_id": policy.oidc_client_id,
        "oidc_match": policy.oidc_match,
        "oidc_create_users": policy.oidc_create_users,
    }
    form = SignInSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        organisation = admin.organisation
        saved = attempt(
            request,
            lambda: services.organisation_signin_update(
                organisation=organisation,
                actor=admin,
                values=PolicyValues(
                    totp_required=data["totp_required"],
                    session_timeout_minutes=data["session_timeout_minutes"],
                    oidc_enabled=data["oidc_enabled"],
                    oidc_issuer=data["oidc_issuer"],
                    oidc_client_id=data["oidc_client_id"],
                    oidc_match=data["oidc_match"],
                    oidc_create_users=data["oidc_create_users"],
                    oidc_client_secret=data["oidc_client_secret"] or None,
                ),
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("ログイン設定を保存しました。"),
        )
        if saved.ok:
            return redirect("signin-settings")
    return render(
        request,
        "login/settings.html",
        {
            "form": form,
            "policy": policy,
            "has_secret": bool(policy.oidc_client_secret_sealed),
            "callback": callback_url(admin.organisation.slug),
        },
    )


def callback_url(slug: str) -> str:
    return settings.PUBLIC_URL + reverse("signin-oidc-callback", args=[slug])


@org_admin_required
def locks_view(request: HttpRequest) -> HttpResponse:
    admin = _admin(request)
    assert admin.organisation is not None
    return render(
        request,
        "login/locks.html",
        {
            "locked": services.locked_staff(admin.organisation),
            "enrolled": services.totp_enrolled_staff(admin.organisation),
        },
    )


@org_admin_required
@require_POST
def unlock_view(request: HttpRequest, staff_id: int) -> HttpResponse:
    admin = _admin(request)
    staff = get_object_or_404(Staff, pk=staff_id, organisation=admin.organisation)
    services.lock_release(staff=staff, actor=admin, meta=RequestMeta.from_request(request))
    messages.success(
        request, _("%(name)sさんのログイン制限を解除しました。") % {"name": staff.label}
    )
    return redirect("signin-locks")


@org_admin_required
@require_POST
def totp_reset_view(request: HttpRequest, staff_id: int) -> HttpResponse:
    """For a staff member who lost both the app and the recovery codes."""
    admin = _admin(request)
    staff = get_object_or_404(Staff, pk=staff_id, organisation=admin.organisation)
    services.totp_remove(staff=staff, actor=admin, meta=RequestMeta.from_request(request))
    messages.success(
        request, _("%(name)sさんの2段階認証をリセットしました。") % {"name": staff.label}
    )
    return redirect("signin-locks")
