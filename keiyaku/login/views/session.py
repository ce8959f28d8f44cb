"""The half-finished login kept in the session between the password and the second step."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import RequestMeta
from keiyaku.login import clock
from keiyaku.login.backends import STAFF_BACKEND
from keiyaku.login.middleware import MFA_KEY, SEEN_KEY
from keiyaku.login.services import login_success_record
from keiyaku.web.refusals import attempt

PENDING_KEY = "signin.pending"
ENROL_SECRET_KEY = "signin.enrol_secret"  # noqa: S105 - a session key, not a secret
NEW_CODES_KEY = "signin.new_codes"
AFTER_CODES_KEY = "signin.after_codes"


def safe_next(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def pending_start(request: HttpRequest, *, staff: Staff, step: str, next_url: str) -> None:
    # A new session key once the password is right: a planted session id gains nothing.
    request.session.cycle_key()
    request.session.pop(ENROL_SECRET_KEY, None)
    request.session[PENDING_KEY] = {
        "staff": staff.pk,
        "step": step,
        "next": next_url,
        "at": int(clock.now().timestamp()),
    }


def pending_get(request: HttpRequest, step: str) -> tuple[Staff, dict[str, Any]] | None:
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict) or data.get("step") != step:
        return None
    if clock.now().timestamp() - data.get("at", 0) > settings.KEIYAKU_LOGIN_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    staff_id = data.get("staff")
    if not isinstance(staff_id, int):
        return None
    staff = Staff.objects.filter(pk=staff_id, is_active=True).first()
    if staff is None:
        return None
    return staff, data


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)
    request.session.pop(ENROL_SECRET_KEY, None)


def login_complete(
    request: HttpRequest, *, staff: Staff, method: str, next_url: str
) -> HttpResponse:
    """Log in for real; `method` says which second factor (or SSO) was used, if any.

    Unless the account was locked meanwhile (see `login_success_record`): then nobody is
    logged in and the login page says why.
    """
    pending_clear(request)
    recorded = attempt(
        request,
        lambda: login_success_record(
            staff=staff, method=method, meta=RequestMeta.from_request(request)
        ),
    )
    if not recorded.ok:
        return redirect("login")
    login(request, staff, backend=STAFF_BACKEND)
    if method != "password":
        request.session[MFA_KEY] = method
    request.session[SEEN_KEY] = int(clock.now().timestamp())
    return redirect(next_url)


def rate_limited(request: HttpRequest) -> HttpResponse:
    return render(request, "login/rate_limited.html", status=429)
