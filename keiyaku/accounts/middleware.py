"""The IP allow-list of each organisation (R38), applied to its staff screens."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from keiyaku.accounts.network import address_allowed, client_ip

# Pages that are not staff screens: the public verification page and PKI endpoints, the login
# pages (so that the refusal can be read and the person can log out or sign in elsewhere), a
# counterparty's free account (R3), and the e-mailed signing and download links. Those serve
# counterparties, who sign from anywhere, and staff parties (the mayor), who must not: a staff
# party's links apply the list per party
# (`keiyaku.web.views.party_link`), whether or not anyone is logged in.
UNRESTRICTED_PREFIXES = (
    "/s/",
    "/d/",
    "/counterparty/",
    "/verify/",
    "/pki/",
    "/login/",
    "/logout/",
    "/reset/",
    "/password-reset/",
    "/welcome/",
    "/a/",
    "/i18n/",
    "/static/",
)


def organisation_allows(request: HttpRequest, organisation) -> bool:
    """Whether the request's client address may reach this organisation's screens or API."""
    if organisation is None or not organisation.ip_allowlist.strip():
        return True
    return address_allowed(client_ip(request), organisation.ip_allowlist)


def wants_json(request: HttpRequest) -> bool:
    """Machine-readable endpoints (the JSON the screens fetch, and the API) answer in JSON."""
    return request.path.endswith(".json") or request.path.startswith("/api/")


def ip_refusal(request: HttpRequest) -> HttpResponse:
    """The 403 for a client address outside the allow-list: JSON or the page."""
    address = client_ip(request)
    if wants_json(request):
        return JsonResponse(
            {
                "error": _(
                    "この接続元（%(address)s）からは、所属する団体の職員画面とAPIを利用できません。"
                )
                % {"address": address},
                "code": "ip_not_allowed",
                "address": address,
            },
            status=403,
        )
    return render(request, "accounts/ip_denied.html", {"address": address}, status=403)


class IpAllowListMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "organisation_id", None) is not None
            and not request.path.startswith(UNRESTRICTED_PREFIXES)
            and not organisation_allows(request, user.organisation)
        ):
            return ip_refusal(request)
        return self.get_response(request)
