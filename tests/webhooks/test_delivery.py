"""Issue 16, acceptance 5 and the webhook delivery rules (R40): retries on the documented
schedule under a fake clock, once-only delivery by event id, the signature checked with the
documented algorithm written independently (tests/webhooks/receiver.py), secret rotation with
two valid secrets, internal addresses refused, an endpoint that keeps failing shown to admins
and to the operator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from keiyaku.accounts.models import Staff
from keiyaku.contracts import services as contracts
from keiyaku.storage import crypto
from keiyaku.webhooks import services
from keiyaku.webhooks.delivery import (
    ATTEMPTS,
    RETRY_DELAYS,
    webhook_deliver,
    webhooks_due_deliver,
)
from keiyaku.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from keiyaku.webhooks.selectors import endpoints_in_trouble
from tests.flow import draft_contract
from tests.webhooks.receiver import signature_valid

pytestmark = pytest.mark.django_db(transaction=True)

JST = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 3, 2, 9, 0, tzinfo=JST)


@pytest.fixture
def hook(personas, receiver) -> tuple[WebhookEndpoint, str]:
    return services.webhook_endpoint_create(
        organisation=personas.org,
        actor=personas.admin,
        name="文書管理システム",
        url=receiver.url,
        events=["sent", "cancelled", "completed"],
    )


def test_documented_schedule_is_at_least_three_days():
    assert [d.total_seconds() / 60 for d in RETRY_DELAYS] == [
        1, 5, 30, 120, 360, 720, 1440, 1440, 1440
    ]  # fmt: skip
    assert ATTEMPTS == 10
    assert sum(RETRY_DELAYS, timedelta()) >= timedelta(days=3)


def test_a_receiver_that_fails_three_times_then_succeeds_gets_the_event_once(
    personas, receiver, hook
):
    """Acceptance 5: four attempts in the log, the waits between them the documented ones."""
    endpoint, secret = hook
    receiver.answers = [500, 503, 502]
    contract = draft_contract(personas.sender)
    with time_machine.travel(START, tick=False):
        contracts.contract_cancel(contract=contract, actor=personas.sender, reason="予算の都合")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.attempts) == ("cancelled", 1)  # at once, on commit
    attempted_at = START
    for delay in RETRY_DELAYS[:3]:
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == attempted_at + delay
        with time_machine.travel(delivery.next_attempt_at - timedelta(seconds=1), tick=False):
            assert webhooks_due_deliver() == 0  # not yet due: nothing sent
        with time_machine.travel(delivery.next_attempt_at, tick=False):
            webhooks_due_deliver()
        attempted_at = attempted_at + delay
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.next_attempt_at is None
    log = list(delivery.attempt_log.order_by("number"))
    assert [a.status_code for a in log] == [500, 503, 502, 200]
    assert [a.number for a in log] == [1, 2, 3, 4]
    assert [a.started_at - START for a in log] == [
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=6),
        timedelta(minutes=36),
    ]
    assert [a.error for a in log] == ["HTTP 500", "HTTP 503", "HTTP 502", ""]

    # The receiver saw one event four times, the same id and body, and took it once.
    assert [r.answered for r in receiver.received] == [500, 503, 502, 200]
    ids = {r.headers["Keiyaku-Event-Id"] for r in receiver.received}
    assert ids == {str(delivery.event_id)}
    assert {r.body for r in receiver.received} == {delivery.body.encode()}
    for got, attempt in zip(receiver.received, log, strict=True):
        assert signature_valid(
            got.headers["Keiyaku-Signature"],
            got.body,
            secret,
            now=int(attempt.started_at.timestamp()),
        )

    # Delivered: neither the sweep nor a second job sends it again.
    with time_machine.travel(START + timedelta(days=5), tick=False):
        assert webhooks_due_deliver() == 0
        assert webhook_deliver(delivery_id=delivery.pk) is False
    assert len(receiver.received) == 4

    # The log shows all four attempts to the organisation's admin.
    admin = Client()
    admin.force_login(personas.admin)
    page = admin.get(f"/admin-org/webhooks/{endpoint.pk}/events/{delivery.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for status in ("500", "503", "502", "200"):
        assert f"<td>{status}</td>" in html
    assert html.count("HTTP 50") == 3
    endpoint.refresh_from_db()
    assert endpoint.failures == 0 and not endpoint.is_failing


def test_the_payload_names_no_one_and_carries_no_link(personas, receiver, hook):
    contract = draft_contract(personas.sender)
    with time_machine.travel(START, tick=False):
        contracts.contract_cancel(contract=contract, actor=personas.sender, reason="取りやめ")
    (got,) = receiver.received
    body = json.loads(got.body)
    assert body == {
        "id": got.headers["Keiyaku-Event-Id"],
        "type": "cancelled",
        "created_at": "2026-03-02T09:00:00+09:00",
        "organisation": {"id": personas.org.pk, "slug": "test-city"},
        "data": {"contract": {"id": str(contract.pk), "status": "cancelled"}},
    }
    assert got.headers["Keiyaku-Event-Type"] == "cancelled"
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"


def test_the_signature_verifies_with_both_secrets_while_rotating_then_the_new_one(
    personas, receiver, hook, settings
):
    endpoint, first = hook
    settings.KEIYAKU_WEBHOOK_ROTATION_HOURS = 24
    with time_machine.travel(START, tick=False):
        second = services.webhook_secret_rotate(endpoint=endpoint, actor=personas.admin)
        assert second != first and second.startswith("whsec_")
        services.webhook_test_send(endpoint=endpoint, actor=personas.admin)
    during = receiver.received[-1]
    header = during.headers["Keiyaku-Signature"]
    assert header.startswith(f"t={int(START.timestamp())},v1=") and header.count("v1=") == 2
    now = int(START.timestamp())
    assert signature_valid(header, during.body, second, now=now)
    assert signature_valid(header, during.body, first, now=now)
    assert not signature_valid(header, during.body, "whsec_somebody-else", now=now)
    assert not signature_valid(header, during.body + b" ", second, now=now)  # body altered
    assert not signature_valid(header, during.body, second, now=now + 3600)  # replayed later

    after = START + timedelta(hours=24, seconds=1)
    with time_machine.travel(after, tick=False):
        services.webhook_test_send(endpoint=endpoint, actor=personas.admin)
        assert services.previous_secrets_drop() == 1
    later = receiver.received[-1]
    header = later.headers["Keiyaku-Signature"]
    assert header.count("v1=") == 1
    assert signature_valid(header, later.body, second, now=int(after.timestamp()))
    assert not signature_valid(header, later.body, first, now=int(after.timestamp()))
    endpoint.refresh_from_db()
    assert endpoint.previous_secret_sealed == "" and endpoint.previous_secret_until is None
    # Stored sealed: the secret is not in the row, and opens only with the master key.
    assert second not in endpoint.secret_sealed
    assert crypto.open_text(endpoint.secret_sealed, purpose=crypto.WEBHOOK_SECRET_PURPOSE) == (
        second
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "ftp://example.jp/hook",
    ],
)
def test_internal_addresses_are_refused_when_saved(personas, settings, url):
    settings.KEIYAKU_OUTBOUND_ALLOW = []
    with pytest.raises(services.WebhookError) as refused:
        services.webhook_endpoint_create(
            organisation=personas.org, actor=personas.admin, name="x", url=url, events=["sent"]
        )
    assert refused.value.field == "url"
    assert refused.value.code in ("outbound_address", "outbound_scheme")
    assert not WebhookEndpoint.objects.exists()


def test_an_address_no_longer_allowed_is_refused_at_delivery_and_nothing_is_sent(
    personas, receiver, hook, settings
):
    endpoint, _secret = hook
    settings.KEIYAKU_OUTBOUND_ALLOW = []
    services.webhook_test_send(endpoint=endpoint, actor=personas.admin)
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    (attempt,) = delivery.attempt_log.all()
    assert attempt.status_code is None and "内部ネットワーク" in attempt.error
    assert delivery.status == DeliveryStatus.PENDING  # retried: the operator may allow it again


def test_an_endpoint_that_keeps_failing_is_given_up_on_and_shown_never_dropped(
    personas, receiver, hook, settings
):
    endpoint, _secret = hook
    receiver.answers = [500] * 20
    with time_machine.travel(START, tick=False):
        services.webhook_test_send(endpoint=endpoint, actor=personas.admin)
    delivery = WebhookDelivery.objects.get()
    for _delay in RETRY_DELAYS:
        delivery.refresh_from_db()
        with time_machine.travel(delivery.next_attempt_at, tick=False):
            webhooks_due_deliver()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert delivery.attempts == ATTEMPTS == len(receiver.received)
    log = list(delivery.attempt_log.order_by("number"))
    assert log[-1].started_at - log[0].started_at == sum(RETRY_DELAYS, timedelta())
    assert log[-1].started_at - log[0].started_at >= timedelta(days=3)
    with time_machine.travel(START + timedelta(days=30), tick=False):
        assert webhooks_due_deliver() == 0  # given up: no more attempts by themselves
    endpoint.refresh_from_db()
    assert endpoint.is_failing and endpoint.failures == ATTEMPTS
    assert list(endpoints_in_trouble(personas.org.pk)) == [endpoint]

    # Shown to the organisation's admins on every administration screen, and to the operator.
    admin = Client()
    admin.force_login(personas.admin)
    for url in ("/admin-org/", "/admin-org/webhooks/", f"/admin-org/webhooks/{endpoint.pk}/"):
        html = admin.get(url).content.decode()
        assert 'id="webhooks-trouble"' in html and "文書管理システム" in html, url
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert 'id="webhooks-trouble"' not in outsider.get("/admin-org/").content.decode()
    operator = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-op-1")
    op = Client()
    op.force_login(operator)
    status = op.get("/operator/status/")
    assert status.status_code == 200
    assert "文書管理システム" in status.content.decode().split('id="webhooks-failing"')[1]

    # 「再送」 starts the schedule again, with the same event id; the receiver takes it.
    receiver.answers = []
    with time_machine.travel(START + timedelta(days=31), tick=False):
        services.webhook_resend(delivery=delivery, actor=personas.admin)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == ATTEMPTS + 1
    assert receiver.received[-1].headers["Keiyaku-Event-Id"] == str(delivery.event_id)
    endpoint.refresh_from_db()
    assert endpoint.failures == 0 and list(endpoints_in_trouble(personas.org.pk)) == []


def test_a_resent_event_that_fails_again_follows_the_schedule_from_its_start(
    personas, receiver, hook
):
    endpoint, _secret = hook
    receiver.answers = [500] * 30
    with time_machine.travel(START, tick=False):
        services.webhook_test_send(endpoint=endpoint, actor=personas.admin)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, attempts=ATTEMPTS
    )
    later = START + timedelta(days=10)
    with time_machine.travel(later, tick=False):
        services.webhook_resend(delivery=delivery, actor=personas.admin)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at == later + RETRY_DELAYS[0]
