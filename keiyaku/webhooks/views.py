"""The webhooks screen under the organisation's administration (管理 → Webhook, R40).

For the organisation's admins only (`org_admin_required`: 403 for other staff); another
organisation's endpoint or event is not found (404, `selectors.endpoint_for`). Every change
goes through one service; the signing secret is shown once, in the answer to the post that
made it, never stored in a session or shown again.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.accounts.permissions import org_admin_required
from keiyaku.audit.services import RequestMeta
from keiyaku.web.refusals import attempt
from keiyaku.webhooks import services
from keiyaku.webhooks.delivery import ATTEMPTS, RETRY_DELAYS
from keiyaku.webhooks.forms import EndpointForm
from keiyaku.webhooks.models import WebhookEndpoint, WebhookEvent
from keiyaku.webhooks.selectors import (
    deliveries_of,
    delivery_for,
    endpoint_for,
    endpoints_of,
)
from keiyaku.webhooks.signature import HEADER


class AdminRequest(HttpRequest):
    user: Staff


def _secret_page(
    request: AdminRequest, endpoint: WebhookEndpoint, secret: str, *, rotated: bool
) -> HttpResponse:
    """The secret, once: the answer to the post that made it (never cached)."""
    return render(
        request,
        "webhooks/secret.html",
        {"endpoint": endpoint, "secret": secret, "rotated": rotated, "header": HEADER},
    )


@org_admin_required
def endpoint_list(request: AdminRequest) -> HttpResponse:
    return render(
        request,
        "webhooks/list.html",
        {"endpoints": endpoints_of(request.user), "header": HEADER},
    )


@never_cache
@org_admin_required
def endpoint_create(request: AdminRequest) -> HttpResponse:
    form = EndpointForm(
        request.POST or None,
        initial={"events": [WebhookEvent.COMPLETED, WebhookEvent.REJECTED]},
    )
    if request.method == "POST" and form.is_valid():
        created = attempt(
            request,
            lambda: services.webhook_endpoint_create(
                organisation=request.user.organisation,
                actor=request.user,
                name=form.cleaned_data["name"],
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
        )
        if created.result is not None:
            endpoint, secret = created.result
            return _secret_page(request, endpoint, secret, rotated=False)
    return render(request, "webhooks/form.html", {"form": form}, status=400 if form.errors else 200)


@org_admin_required
def endpoint_detail(request: AdminRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_for(request.user, endpoint_id)
    form = EndpointForm(
        request.POST or None,
        initial={"name": endpoint.name, "url": endpoint.url, "events": endpoint.events},
    )
    if request.method == "POST" and form.is_valid():
        updated = attempt(
            request,
            lambda: services.webhook_endpoint_update(
                endpoint=endpoint,
                actor=request.user,
                name=form.cleaned_data["name"],
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("Webhookの送信先を保存しました。"),
        )
        if updated.ok:
            return redirect("webhooks:detail", endpoint.pk)
    return render(
        request,
        "webhooks/detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "deliveries": deliveries_of(endpoint),
            "schedule": RETRY_DELAYS,
            "attempts": ATTEMPTS,
        },
        status=400 if form.errors else 200,
    )


@require_POST
@org_admin_required
def endpoint_test(request: AdminRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_for(request.user, endpoint_id)
    attempt(
        request,
        lambda: services.webhook_test_send(
            endpoint=endpoint, actor=request.user, meta=RequestMeta.from_request(request)
        ),
        success=_("テストイベントを送信しました。結果は下の送信履歴に表示されます。"),
    )
    return redirect("webhooks:detail", endpoint.pk)


@never_cache
@require_POST
@org_admin_required
def endpoint_rotate(request: AdminRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_for(request.user, endpoint_id)
    rotated = attempt(
        request,
        lambda: services.webhook_secret_rotate(
            endpoint=endpoint, actor=request.user, meta=RequestMeta.from_request(request)
        ),
    )
    if rotated.result is None:
        return redirect("webhooks:detail", endpoint.pk)
    endpoint.refresh_from_db()
    return _secret_page(request, endpoint, rotated.result, rotated=True)


@org_admin_required
def endpoint_delete(request: AdminRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_for(request.user, endpoint_id)
    if request.method == "POST":
        deleted = attempt(
            request,
            lambda: services.webhook_endpoint_delete(
                endpoint=endpoint, actor=request.user, meta=RequestMeta.from_request(request)
            ),
            success=_("Webhookの送信先を削除しました。"),
        )
        if deleted.ok:
            return redirect("webhooks:list")
    return render(request, "webhooks/delete.html", {"endpoint": endpoint})


@org_admin_required
def delivery_detail(request: AdminRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = endpoint_for(request.user, endpoint_id)
    delivery = delivery_for(endpoint, delivery_id)
    return render(request, "webhooks/delivery.html", {"endpoint": endpoint, "delivery": delivery})


@require_POST
@org_admin_required
def delivery_resend(request: AdminRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = endpoint_for(request.user, endpoint_id)
    delivery = delivery_for(endpoint, delivery_id)
    attempt(
        request,
        lambda: services.webhook_resend(
            delivery=delivery, actor=request.user, meta=RequestMeta.from_request(request)
        ),
        success=_("イベントを再送しました。"),
    )
    return redirect("webhooks:delivery", endpoint.pk, delivery.pk)
