"""Reads of webhooks that depend on who asks: an organisation's admins see its endpoints only.

Another organisation's endpoint or event is not found (404), never refused (R1, R36).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from keiyaku.accounts.permissions import is_org_admin
from keiyaku.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

LOG_LENGTH = 50
"""Events listed on an endpoint's page, newest first."""


def endpoints_of(staff: Any) -> QuerySet[WebhookEndpoint]:
    """The endpoints of the organisation `staff` administers, with the number of events given
    up on (``given_up``) and waiting (``waiting``); none for anyone else."""
    if not is_org_admin(staff):
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.filter(organisation_id=staff.organisation_id).annotate(
        given_up=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
        waiting=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
    )


def endpoint_for(staff: Any, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint of `staff`'s organisation, for its admin; Http404 otherwise."""
    found = endpoints_of(staff).select_related("organisation").filter(pk=endpoint_id).first()
    if found is None:
        raise Http404
    return found


def deliveries_of(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's latest events (its delivery log), newest first, with their attempts."""
    return endpoint.deliveries.prefetch_related("attempt_log").order_by("-id")[:LOG_LENGTH]


def delivery_for(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    """One event of an endpoint already checked by `endpoint_for`; Http404 otherwise."""
    found = (
        endpoint.deliveries.select_related("endpoint__organisation")
        .prefetch_related("attempt_log")
        .filter(pk=delivery_id)
        .first()
    )
    if found is None:
        raise Http404
    return found


def endpoints_in_trouble(organisation_id: int | None = None) -> QuerySet[WebhookEndpoint]:
    """Endpoints failing now (KEIYAKU_WEBHOOK_FAILING_AFTER attempts in a row) or with events
    given up on: what an admin (their organisation) and the operator (every one) are shown,
    so that nothing is dropped unseen."""
    found = WebhookEndpoint.objects.annotate(
        given_up=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED))
    ).filter(Q(failures__gte=settings.KEIYAKU_WEBHOOK_FAILING_AFTER) | Q(given_up__gt=0))
    if organisation_id is not None:
        found = found.filter(organisation_id=organisation_id)
    return found.select_related("organisation").order_by("organisation__name", "id")
