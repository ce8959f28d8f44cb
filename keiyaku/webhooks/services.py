"""Every change to webhooks: endpoints (admins only), events the contract services emit, resends.

Administration (R40, R36): `webhook_endpoint_create`, `webhook_endpoint_update`,
`webhook_endpoint_delete`, `webhook_secret_rotate`, `webhook_test_send`, `webhook_resend`. Each
checks that the actor administers the endpoint's organisation (`require_org_admin`), locks what
it changes, writes its audit entry in the same transaction and queues deliveries on commit.

Events (`webhook_emit`): the contract services call it inside the transaction that records the
moment (the same place as their audit entry and mail), so an event exists exactly when the
change committed. One `WebhookDelivery` per endpoint that chose the event, each with its own
event id; the body is written once and sent unchanged on every attempt.

What a payload holds (docs/api.md, "Webhooks"): the event id, type and time (ISO 8601, +09:00),
the organisation's id and slug, the contract's id and status, and for a party's event its
position, role and kind. Never a signing link, an access code, a name or an address: receivers
fetch what they need through the API with the contract id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.permissions import require_org_admin
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.outbound_http import url_check
from keiyaku.refusals import Refusal
from keiyaku.storage import crypto
from keiyaku.text_input import require_single_line
from keiyaku.webhooks.models import (
    TEST_EVENT,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from keiyaku.webhooks.signature import secret_new

JST = ZoneInfo("Asia/Tokyo")
URL_MAX = 500
NAME_MAX = 100


class WebhookError(Refusal):
    """A refusal of the webhook services (see keiyaku.refusals)."""


def _seal(secret: str) -> str:
    return crypto.seal_text(secret, purpose=crypto.WEBHOOK_SECRET_PURPOSE)


def secrets_valid(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, then the previous one until its end."""
    found = [crypto.open_text(endpoint.secret_sealed, purpose=crypto.WEBHOOK_SECRET_PURPOSE)]
    if (
        endpoint.previous_secret_sealed
        and endpoint.previous_secret_until is not None
        and endpoint.previous_secret_until > now
    ):
        found.append(
            crypto.open_text(endpoint.previous_secret_sealed, purpose=crypto.WEBHOOK_SECRET_PURPOSE)
        )
    return found


def _clean(name: str, url: str, events: Sequence[str]) -> tuple[str, str, list[str]]:
    name, url = name.strip(), url.strip()
    if not name:
        raise WebhookError(_("名前を入力してください。"), code="name_required", field="name")
    if not url:
        raise WebhookError(_("送信先URLを入力してください。"), code="url_required", field="url")
    require_single_line(name=("名前", name), url=("送信先URL", url))
    if len(name) > NAME_MAX:
        raise WebhookError(
            _("名前は%(count)d文字以内で入力してください。") % {"count": NAME_MAX},
            code="name_too_long",
            field="name",
        )
    if len(url) > URL_MAX:
        raise WebhookError(
            _("送信先URLは%(count)d文字以内で入力してください。") % {"count": URL_MAX},
            code="url_too_long",
            field="url",
        )
    try:
        url_check(url)  # https, and no internal address (the deliveries check again each time)
    except Refusal as refusal:
        raise WebhookError(refusal.message, code=refusal.code, field="url") from refusal
    known = set(WebhookEvent.values)
    chosen = [e for e in WebhookEvent.values if e in set(events)]
    if not chosen or set(events) - known:
        raise WebhookError(
            _("送信するイベントを1つ以上選んでください。"), code="events_required", field="events"
        )
    return name, url, chosen


def webhook_endpoint_create(
    *,
    organisation: Any,
    actor: Any,
    name: str,
    url: str,
    events: Sequence[str],
    meta: RequestMeta = SYSTEM,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of `organisation` and its signing secret, returned once to show the admin
    (only its sealed form is stored).

    Args:
        url: https (or a target the operator allowed in KEIYAKU_OUTBOUND_ALLOW), not internal.
        events: WebhookEvent values, at least one.

    Raises:
        NotAllowed: `actor` does not administer `organisation` (R36).
        WebhookError: a field is missing or wrong; the organisation has KEIYAKU_WEBHOOK_ENDPOINTS.
        OutboundRefused: through WebhookError, an internal address or plain http (SSRF).
    """
    require_org_admin(actor, organisation)
    name, url, chosen = _clean(name, url, events)
    secret = secret_new()
    with transaction.atomic():
        type(organisation).objects.select_for_update().get(pk=organisation.pk)
        limit = settings.KEIYAKU_WEBHOOK_ENDPOINTS
        if WebhookEndpoint.objects.filter(organisation=organisation).count() >= limit:
            raise WebhookError(
                _("Webhookの送信先は%(count)d件までです。") % {"count": limit}, code="too_many"
            )
        endpoint = WebhookEndpoint.objects.create(
            organisation=organisation,
            name=name,
            url=url,
            events=chosen,
            secret_sealed=_seal(secret),
            created_by=actor,
        )
        audit_record(
            event="webhook.create",
            organisation=organisation,
            actor=actor,
            subject=f"webhook:{endpoint.pk}",
            detail={"name": name, "url": url, "events": chosen},
            meta=meta,
        )
    return endpoint, secret


def _locked(endpoint: WebhookEndpoint, actor: Any) -> WebhookEndpoint:
    """The endpoint read again under its row lock, after the right is checked."""
    require_org_admin(actor, endpoint.organisation)
    found = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
    if found is None:
        raise WebhookError(_("このWebhookの送信先は削除されています。"), code="gone")
    return found


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Any,
    name: str,
    url: str,
    events: Sequence[str],
    meta: RequestMeta = SYSTEM,
) -> WebhookEndpoint:
    """Change an endpoint's name, URL and events; the secret stays. Each attempt reads the
    endpoint's URL, so a corrected URL also receives the retries of events that failed at the
    old one.

    Raises:
        NotAllowed: `actor` does not administer the endpoint's organisation.
        WebhookError: as `webhook_endpoint_create`, or the endpoint was deleted meanwhile.
    """
    require_org_admin(actor, endpoint.organisation)
    name, url, chosen = _clean(name, url, events)
    with transaction.atomic():
        current = _locked(endpoint, actor)
        before = {"name": current.name, "url": current.url, "events": current.events}
        WebhookEndpoint.objects.filter(pk=current.pk).update(name=name, url=url, events=chosen)
        audit_record(
            event="webhook.update",
            organisation=current.organisation,
            actor=actor,
            subject=f"webhook:{current.pk}",
            detail={"before": before, "after": {"name": name, "url": url, "events": chosen}},
            meta=meta,
        )
    current.refresh_from_db()
    return current


def webhook_endpoint_delete(
    *, endpoint: WebhookEndpoint, actor: Any, meta: RequestMeta = SYSTEM
) -> None:
    """Remove an endpoint with its delivery log; nothing more is sent to it. The audit entry
    keeps its name, URL and how many events were still waiting.

    Raises:
        NotAllowed: `actor` does not administer the endpoint's organisation.
        WebhookError: deleted meanwhile (``gone``).
    """
    with transaction.atomic():
        current = _locked(endpoint, actor)
        waiting = current.deliveries.filter(status=DeliveryStatus.PENDING).count()
        audit_record(
            event="webhook.delete",
            organisation=current.organisation,
            actor=actor,
            subject=f"webhook:{current.pk}",
            detail={"name": current.name, "url": current.url, "pending": waiting},
            meta=meta,
        )
        current.delete()


def webhook_secret_rotate(
    *, endpoint: WebhookEndpoint, actor: Any, meta: RequestMeta = SYSTEM
) -> str:
    """A new signing secret, returned once to show the admin. The secret it replaces keeps
    signing beside it (two ``v1`` values) for KEIYAKU_WEBHOOK_ROTATION_HOURS, then is dropped
    (`previous_secrets_drop`), so the receiver can switch without losing an event.

    Raises:
        NotAllowed: `actor` does not administer the endpoint's organisation.
        WebhookError: deleted meanwhile (``gone``).
    """
    secret = secret_new()
    with transaction.atomic():
        current = _locked(endpoint, actor)
        until = timezone.now() + timedelta(hours=settings.KEIYAKU_WEBHOOK_ROTATION_HOURS)
        WebhookEndpoint.objects.filter(pk=current.pk).update(
            secret_sealed=_seal(secret),
            previous_secret_sealed=current.secret_sealed,
            previous_secret_until=until,
        )
        audit_record(
            event="webhook.rotate",
            organisation=current.organisation,
            actor=actor,
            subject=f"webhook:{current.pk}",
            detail={"previous_valid_until": until.isoformat()},
            meta=meta,
        )
    return secret


def previous_secrets_drop(*, now: datetime | None = None) -> int:
    """Forget every previous secret whose rotation period has ended (the periodic job);
    returns how many were dropped."""
    now = now or timezone.now()
    return WebhookEndpoint.objects.filter(previous_secret_until__lte=now).update(
        previous_secret_sealed="", previous_secret_until=None
    )


def _jst(moment: datetime) -> str:
    return moment.astimezone(JST).isoformat(timespec="seconds")


def _payload(
    *, event_id: uuid.UUID, event_type: str, at: datetime, organisation: Any, data: dict
) -> str:
    body = {
        "id": str(event_id),
        "type": event_type,
        "created_at": _jst(at),
        "organisation": {"id": organisation.pk, "slug": organisation.slug},
        "data": data,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _queue(deliveries: list[WebhookDelivery]) -> None:
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids: list[int]) -> None:
    from keiyaku.webhooks.tasks import deliver_webhook

    for delivery_id in ids:
        deliver_webhook(delivery_id)


def party_data(party: Any) -> dict[str, Any]:
    """What a payload says of a party: its place in the routing, never who it is."""
    return {
        "position": party.position,
        "role": party.role,
        "kind": party.kind,
        "forwarded": party.forwarded_from_id is not None,
    }


def webhook_emit(
    *,
    contract: Any,
    event: WebhookEvent,
    party: Any = None,
    extra: dict[str, Any] | None = None,
) -> list[WebhookDelivery]:
    """Queue `event` of `contract` for every endpoint of its organisation that chose it.

    Call inside the transaction that records the event (next to its audit entry): the rows are
    written there and their delivery starts after the commit (a rollback sends nothing).
    `contract.status` is read as it is now, in that transaction. `party`: the party the event
    is about (viewed, agreed, approved, rejected, forwarded, delivery_failed), described by
    `party_data` only. `extra`: further fields of ``data`` that name nobody (a document id).
    Returns the deliveries queued (none when no endpoint chose the event).
    """
    organisation = contract.organisation
    endpoints = list(
        WebhookEndpoint.objects.filter(organisation_id=contract.organisation_id).only("events")
    )
    chosen = [e for e in endpoints if event.value in e.events]
    if not chosen:
        return []
    status = type(contract).objects.filter(pk=contract.pk).values_list("status", flat=True).get()
    data: dict[str, Any] = {"contract": {"id": str(contract.pk), "status": status}}
    if party is not None:
        data["party"] = party_data(party)
    data.update(extra or {})
    now = timezone.now()
    deliveries = []
    for endpoint in chosen:
        event_id = uuid.uuid4()
        deliveries.append(
            WebhookDelivery.objects.create(
                event_id=event_id,
                endpoint=endpoint,
                event_type=event.value,
                contract_id=contract.pk,
                body=_payload(
                    event_id=event_id,
                    event_type=event.value,
                    at=now,
                    organisation=organisation,
                    data=data,
                ),
                created_at=now,
                next_attempt_at=now,
            )
        )
    _queue(deliveries)
    return deliveries


def webhook_test_send(
    *, endpoint: WebhookEndpoint, actor: Any, meta: RequestMeta = SYSTEM
) -> WebhookDelivery:
    """「テスト送信」: an event of type ``test`` to this endpoint only, signed and retried like
    any other, with no contract in it.

    Raises:
        NotAllowed: `actor` does not administer the endpoint's organisation.
        WebhookError: deleted meanwhile (``gone``).
    """
    with transaction.atomic():
        current = _locked(endpoint, actor)
        now = timezone.now()
        event_id = uuid.uuid4()
        delivery = WebhookDelivery.objects.create(
            event_id=event_id,
            endpoint=current,
            event_type=TEST_EVENT,
            body=_payload(
                event_id=event_id,
                event_type=TEST_EVENT,
                at=now,
                organisation=current.organisation,
                data={"message": "keiyaku webhook test"},
            ),
            created_at=now,
            next_attempt_at=now,
        )
        audit_record(
            event="webhook.test",
            organisation=current.organisation,
            actor=actor,
            subject=f"webhook:{current.pk}",
            detail={"event_id": str(event_id)},
            meta=meta,
        )
        _queue([delivery])
    return delivery


def webhook_resend(*, delivery: WebhookDelivery, actor: Any, meta: RequestMeta = SYSTEM) -> None:
    """「再送」: send an event again now, with the same event id and body (receivers drop what
    they already have, by the id). A delivery given up on starts its retry schedule again.

    Raises:
        NotAllowed: `actor` does not administer the endpoint's organisation.
        WebhookError: deleted meanwhile (``gone``).
    """
    with transaction.atomic():
        current = _locked(delivery.endpoint, actor)
        now = timezone.now()
        changed = WebhookDelivery.objects.filter(pk=delivery.pk, endpoint=current).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, series_start=F("attempts")
        )
        if changed != 1:
            raise WebhookError(_("このイベントは削除されています。"), code="gone")
        audit_record(
            event="webhook.resend",
            organisation=current.organisation,
            actor=actor,
            subject=f"webhook:{current.pk}",
            detail={"event_id": str(delivery.event_id), "type": delivery.event_type},
            meta=meta,
        )
        _queue([delivery])
