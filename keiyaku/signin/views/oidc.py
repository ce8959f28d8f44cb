"""Single sign-on with an organisation's OpenID provider: start and callback."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from keiyaku.accounts.models import Organisation
from keiyaku.audit.services import RequestMeta
from keiyaku.outbound_http import OutboundRefused
from keiyaku.signin import clock, oidc, services
from keiyaku.signin.models import OrganisationSignIn
from keiyaku.signin.services import SignInRefused
from keiyaku.signin.views.session import login_complete, safe_next

log = logging.getLogger(__name__)
OIDC_KEY = "signin.oidc"


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
    return render(request, "signin/oidc_error.html", {"message": message}, status=status)


@never_cache
def oidc_start_view(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = get_object_or_404(Organisation, slug=slug)
    _policy, client = _client(organisation)
    try:
        url, pending = oidc.authorization_url(client)
    except OutboundRefused as refused:
        log.warning("OIDC start for %s refused: %s", slug, refused.message)
        return _refused(request, refused.message, 403)
    except oidc.OidcError as exc:
        log.warning("OIDC start for %s failed: %s", slug, exc)
        return _refused(
            request,
            _("IDプロバイダに接続できませんでした。しばらくしてから再度お試しください。"),
            502,
        )
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
    try:
        claims = oidc.id_token_claims(
            client,
            code=request.GET["code"],
            pending=oidc.Pending(state=state, nonce=data["nonce"], verifier=data["verifier"]),
        )
    except OutboundRefused as refused:
        log.warning("OIDC callback for %s refused: %s", slug, refused.message)
        return _refused(request, refused.message, 403)
    except oidc.OidcError as exc:
        log.warning("OIDC callback for %s refused: %s", slug, exc)
        return _refused(request, _("IDプロバイダからの応答を確認できませんでした。"), 400)
    meta = RequestMeta.from_request(request)
    try:
        staff = services.oidc_staff_for(
            organisation=organisation, policy=policy, claims=claims, meta=meta
        )
        services.login_check_not_locked(staff=staff, meta=meta)
    except SignInRefused as refused:
        return _refused(request, refused.message, 403)
    return login_complete(request, staff=staff, method="oidc", next_url=data["next"])
