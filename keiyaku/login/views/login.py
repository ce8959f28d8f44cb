"""Login: password, then the TOTP code or enrolment when needed (R37)."""

from __future__ import annotations

from urllib.parse import urlsplit

import segno
from django.contrib import messages
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import RequestMeta
from keiyaku.login import services, totp
from keiyaku.login.forms import CodeForm, LoginForm
from keiyaku.login.models import OrganisationSignIn
from keiyaku.login.services import SignInRefused
from keiyaku.login.views.session import (
    AFTER_CODES_KEY,
    ENROL_SECRET_KEY,
    NEW_CODES_KEY,
    login_complete,
    pending_clear,
    pending_get,
    pending_start,
    rate_limited,
    safe_next,
)
from keiyaku.ratelimits.limiter import login_rate_exceeded, login_rate_succeeded
from keiyaku.web.refusals import attempt, refusal_show


def asks_for_signing(next_url: str | None) -> bool:
    """Whether the page behind the login is a signing link (a staff signer's or approver's
    request, `web/views/party_link.py`): the login page then says why it asks (issue 14)."""
    if not next_url:
        return False
    try:
        match = resolve(urlsplit(next_url).path)
    except Resolver404:
        return False
    return (match.url_name or "").startswith("sign-")


def sso_organisations() -> list[OrganisationSignIn]:
    policies = OrganisationSignIn.objects.filter(oidc_enabled=True).select_related("organisation")
    return [p for p in policies.order_by("organisation__name") if p.oidc_ready]


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = LoginForm(request.POST or None)
    error = ""
    if request.method == "POST":
        if not form.is_valid():
            error = services.bad_credentials_message()
        else:
            meta = RequestMeta.from_request(request)
            username = form.cleaned_data["username"]
            if login_rate_exceeded(ip=meta.ip, login_id=username):
                return rate_limited(request)
            stepped = attempt(
                request,
                lambda: _password_step(request, username, form.cleaned_data["password"], next_url),
                show=False,  # shown in place of the form's own errors
            )
            if stepped.result is not None:
                # The password was right: only failures count towards the rate limit.
                login_rate_succeeded(ip=meta.ip, login_id=username)
                return stepped.result
            assert stepped.refusal is not None
            error = stepped.refusal.message
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "error": error,
            "next": request.POST.get("next") or request.GET.get("next", ""),
            "for_signing": asks_for_signing(next_url),
            "sso": sso_organisations(),
        },
    )


def _password_step(
    request: HttpRequest, username: str, password: str, next_url: str
) -> HttpResponse:
    meta = RequestMeta.from_request(request)
    staff = Staff.objects.filter(username=username).first()
    if staff is not None:
        services.login_check_not_locked(staff=staff, meta=meta)
    user = authenticate(request, username=username, password=password)
    if not isinstance(user, Staff):
        raise SignInRefused(
            services.login_failure_record(
                staff=staff, login_id=username, reason="password", meta=meta
            ),
            code="bad_credentials",
        )
    step = services.second_step_needed(user)
    if step is None:
        return login_complete(request, staff=user, method="password", next_url=next_url)
    pending_start(request, staff=user, step=step, next_url=next_url)
    return redirect("signin-verify" if step == "totp" else "signin-enrol")


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def verify_view(request: HttpRequest) -> HttpResponse:
    """The second step: a TOTP code or a recovery code."""
    found = pending_get(request, "totp")
    if found is None:
        messages.error(request, _expired())
        return redirect("login")
    staff, data = found
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        meta = RequestMeta.from_request(request)
        if login_rate_exceeded(ip=meta.ip, login_id=staff.username):
            return rate_limited(request)
        verified = attempt(
            request,
            lambda: services.second_factor_verify(
                staff=staff, code=form.cleaned_data["code"], meta=meta
            ),
            show=False,
        )
        if verified.result is not None:
            login_rate_succeeded(ip=meta.ip, login_id=staff.username)
            return login_complete(
                request, staff=staff, method=verified.result, next_url=data["next"]
            )
        assert verified.refusal is not None
        if services.is_locked(services.state_for(staff)):
            pending_clear(request)
            refusal_show(request, verified.refusal)  # on the login page
            return redirect("login")
        error = verified.refusal.message
    elif request.method == "POST":
        error = str(_code_required())
    return render(request, "login/verify.html", {"form": form, "error": error})


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Enrolment right after the password, when the organisation requires 2FA."""
    found = pending_get(request, "enrol")
    if found is None:
        messages.error(request, _expired())
        return redirect("login")
    staff, data = found
    response = enrol_form(request, staff, during_login=True)
    if isinstance(response, list):
        completed = login_complete(request, staff=staff, method="totp", next_url=data["next"])
        if not request.user.is_authenticated:
            return completed  # locked meanwhile: the login page says so
        request.session[NEW_CODES_KEY] = response
        request.session[AFTER_CODES_KEY] = data["next"]
        return redirect("signin-recovery-codes")
    return response


def enrol_form(
    request: HttpRequest, staff: Staff, *, during_login: bool
) -> HttpResponse | list[str]:
    """The enrolment page, or the new recovery codes once the code from the app is right."""
    secret = request.session.get(ENROL_SECRET_KEY)
    if not isinstance(secret, str) or request.method != "POST":
        secret = totp.random_secret()
        request.session[ENROL_SECRET_KEY] = secret
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        enrolled = attempt(
            request,
            lambda: services.totp_enrol(
                staff=staff,
                secret=secret,
                code=form.cleaned_data["code"],
                meta=RequestMeta.from_request(request),
            ),
            show=False,
        )
        if enrolled.result is not None:
            request.session.pop(ENROL_SECRET_KEY, None)
            return enrolled.result
        assert enrolled.refusal is not None
        error = enrolled.refusal.message
    elif request.method == "POST":
        error = str(_code_required())
    uri = totp.provisioning_uri(secret, account=staff.username, issuer=_issuer_label(staff))
    # An <img> with a data: URI: the Content-Security-Policy allows it, no script is needed.
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return render(
        request,
        "login/enrol.html",
        {
            "form": form,
            "error": error,
            "secret": secret,
            "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "uri": uri,
            "qr": qr,
            "during_login": during_login,
            "action": reverse("signin-enrol" if during_login else "signin-account-enrol"),
        },
    )


def _issuer_label(staff: Staff) -> str:
    org = staff.organisation.name if staff.organisation else ""
    return f"keiyaku {org}".strip()


def _expired() -> str:
    return _("ログインの有効時間が過ぎました。もう一度ログインしてください。")


def _code_required() -> str:
    return _("確認コードを入力してください。")
