"""Per-organisation session policy on every request: idle timeout and enforced 2FA (R37)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.login import clock
from keiyaku.login.services import policy_of_request_user

SEEN_KEY = "signin.seen"
MFA_KEY = "signin.mfa"
# The last-seen stamp is written at most this often, so that most requests do not save the session.
_SEEN_RESOLUTION = 30


class SignInPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            refused = self._check(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        assert isinstance(user, Staff)  # __call__ checked is_authenticated
        policy = policy_of_request_user(user)
        now = clock.now().timestamp()
        seen = request.session.get(SEEN_KEY)
        if isinstance(seen, (int, float)) and now - seen > policy.session_timeout_minutes * 60:
            logout(request)
            messages.info(
                request,
                _("一定時間操作がなかったため、ログアウトしました。再度ログインしてください。"),
            )
            return redirect_to_login(request.get_full_path())
        if policy.totp_required and not request.session.get(MFA_KEY):
            # A session that began before 2FA was required, or without the second step.
            logout(request)
            messages.info(request, _("この組織では2段階認証が必須です。再度ログインしてください。"))
            return redirect_to_login(request.get_full_path())
        if not isinstance(seen, (int, float)) or now - seen >= _SEEN_RESOLUTION:
            request.session[SEEN_KEY] = int(now)
        return None
