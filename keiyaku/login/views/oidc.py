"""Single sign-on with an organisation's OpenID provider: start and callback."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from keiyaku.accounts.models import Organisation
from keiyaku.audit.services import RequestMeta
from keiyaku.login import clock, oidc, services
from keiyaku.login.models import OrganisationSignIn
from keiyaku.login.views.session import login_complete, safe_next
from keiyaku.refusals import Refusal
from keiyaku.web.refusals import attempt

OIDC_KEY = "signin.oidc"
# The provider unreachable is its fault (502); an answer we cannot check is a bad request; any
# other refusal (unknown user, disabled, locked) is forbidden.
REFUSAL_STATUS = {"oidc_unavailable": 502, "oidc_response": 400}


def _client(organisation: Organisation) -> tuple[OrganisationSignIn, oidc.Client]:
    policy = services.policy_for(organisation)
    if not policy.oidc_ready:
        raise Http404
    return policy, oidc.Client(
        issuer=policy.oidc_issuer.rstrip("/"),
        client_id=policy.oidc_client_id,
        client_secret=services.oidc_client_secret(policy),
        redirect_uri=settings.PUBLIC_URL
        + reverse("signin-oidc-callback", args=[organisation.slug]),
    )


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "login/oidc_error.html", {"message": message}, status=status)


def _refusal(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    return _refused(request, refusal.message, REFUSAL_STATUS.get(refusal.code, 403))


@never_cache
def oidc_start_view(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = get_object_or_404(Organisation, slug=slug)
    _policy, client = _client(organisation)
    started = attempt(request, lambda: services.oidc_start(client=client), show=False)
    if started.refusal is not None:
        return _refusal(request, started.refusal)
    assert started.result is not None
    url, pending = started.result
    request.session[OIDC_KEY] = {
        "org": organisation.slug,
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.verifier,
        "next": safe_next(request, request.GET.get("next")),
        "at": int(clock.now().timestamp()),
    }
    return redirect(url)


@never_cache
def oidc_callback_view(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = get_object_or_404(Organisation, slug=slug)
    policy, client = _client(organisation)
    data = request.session.pop(OIDC_KEY, None)
    state = request.GET.get("state", "")
    if (
        not isinstance(data, dict)
        or data.get("org") != slug
        or not hmac.compare_digest(str(data.get("state", "")), state)
        or clock.now().timestamp() - data.get("at", 0) > settings.KEIYAKU_LOGIN_PENDING_SECONDS
    ):
        return _refused(
            request,
            _("ログインの有効時間が過ぎたか、不正な要求です。もう一度ログインしてください。"),
            400,
        )
    if request.GET.get("error") or not request.GET.get("code"):
        return _refused(request, _("IDプロバイダでのログインが完了しませんでした。"), 400)
    signed_in = attempt(
        request,
        lambda: services.oidc_sign_in(
            organisation=organisation,
            policy=policy,
            client=client,
            code=request.GET["code"],
            pending=oidc.Pending(state=state, nonce=data["nonce"], verifier=data["verifier"]),
            meta=RequestMeta.from_request(request),
        ),
        show=False,
    )
    if signed_in.refusal is not None:
        return _refusal(request, signed_in.refusal)
    assert signed_in.result is not None
    return login_complete(request, staff=signed_in.result, method="oidc", next_url=data["next"])
