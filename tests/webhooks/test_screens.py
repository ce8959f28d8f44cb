"""The webhooks screen (管理 → Webhook, R40, R36): admins create, edit, test, rotate, resend and
delete; the secret is shown once; bad input gets a Japanese message; other staff get 403 and
another organisation's admins 404 on every webhook URL (generated from the resolver)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver

from keiyaku.audit.models import Event
from keiyaku.storage import crypto
from keiyaku.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.webhooks.receiver import signature_valid

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_RE = re.compile(r'<code id="secret-value">(whsec_[A-Za-z0-9_-]{43})</code>')


def webhook_routes() -> list[str]:
    """Every route of the webhooks app, as `path()` strings under its prefix."""
    for resolver in get_resolver().url_patterns:
        if getattr(resolver, "namespace", None) == "webhooks":
            prefix = str(resolver.pattern)
            return [
                prefix + str(p.pattern) for p in resolver.url_patterns if isinstance(p, URLPattern)
            ]
    raise AssertionError("the webhooks URLs are not installed")


def admin_client(personas) -> Client:
    client = Client()
    client.force_login(personas.admin)
    return client


def create(client: Client, url: str, events=("completed",), name="文書管理システム"):
    return client.post(
        "/admin-org/webhooks/new/", {"name": name, "url": url, "events": list(events)}
    )


def test_an_admin_creates_an_endpoint_and_sees_the_secret_once(personas, receiver):
    admin = admin_client(personas)
    page = admin.get("/admin-org/webhooks/")
    assert page.status_code == 200 and "Webhookの送信先はまだありません。" in page.content.decode()
    answer = create(admin, receiver.url, events=["completed", "rejected"])
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    html = answer.content.decode()
    assert "この秘密鍵は今回だけ表示されます。" in html
    secret = SECRET_RE.search(html).group(1)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.name, endpoint.url, endpoint.events) == (
        "文書管理システム",
        receiver.url,
        ["completed", "rejected"],
    )
    assert secret not in endpoint.secret_sealed
    assert crypto.open_text(endpoint.secret_sealed, purpose=crypto.WEBHOOK_SECRET_PURPOSE) == (
        secret
    )
    # Never again: not on the endpoint's page, the list, or the audit entry.
    for url in ("/admin-org/webhooks/", f"/admin-org/webhooks/{endpoint.pk}/"):
        assert secret not in admin.get(url).content.decode()
    entry = Event.objects.get(event="webhook.create")
    assert entry.actor == personas.admin and secret not in str(entry.detail)

    # 「テスト送信」: signed with that secret; the log shows it.
    admin.post(f"/admin-org/webhooks/{endpoint.pk}/test/")
    (got,) = receiver.received
    assert signature_valid(
        got.headers["Keiyaku-Signature"],
        got.body,
        secret,
        now=int(WebhookDelivery.objects.get().attempt_log.get().started_at.timestamp()),
    )
    detail = admin.get(f"/admin-org/webhooks/{endpoint.pk}/").content.decode()
    assert "テスト送信" in detail and "配信済み" in detail and "HTTP 200" in detail

    # Rotate: a new secret shown once; the next event carries both signatures.
    rotated = admin.post(f"/admin-org/webhooks/{endpoint.pk}/rotate/")
    second = SECRET_RE.search(rotated.content.decode()).group(1)
    assert second != secret
    admin.post(f"/admin-org/webhooks/{endpoint.pk}/test/")
    header = receiver.received[-1].headers["Keiyaku-Signature"]
    assert header.count("v1=") == 2
    assert {e.event for e in Event.objects.filter(subject=f"webhook:{endpoint.pk}")} == {
        "webhook.create",
        "webhook.test",
        "webhook.rotate",
    }


def test_edit_resend_and_delete(personas, receiver):
    admin = admin_client(personas)
    create(admin, receiver.url)
    endpoint = WebhookEndpoint.objects.get()
    saved = admin.post(
        f"/admin-org/webhooks/{endpoint.pk}/",
        {"name": "財務会計", "url": receiver.url + "?v=2", "events": ["sent", "expired"]},
    )
    assert saved.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.events) == ("財務会計", ["sent", "expired"])
    receiver.answers = [500]
    admin.post(f"/admin-org/webhooks/{endpoint.pk}/test/")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    page = admin.get(f"/admin-org/webhooks/{endpoint.pk}/events/{delivery.pk}/")
    assert str(delivery.event_id) in page.content.decode()
    resent = admin.post(f"/admin-org/webhooks/{endpoint.pk}/events/{delivery.pk}/resend/")
    assert resent.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    ids = {r.headers["Keiyaku-Event-Id"] for r in receiver.received}
    assert ids == {str(delivery.event_id)}  # the same event, for the receiver to drop a copy

    assert admin.get(f"/admin-org/webhooks/{endpoint.pk}/delete/").status_code == 200
    assert admin.post(f"/admin-org/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert Event.objects.get(event="webhook.delete").detail["name"] == "財務会計"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "https://127.0.0.1/hook"}, "内部ネットワーク"),
        ({"url": "https://10.0.0.8/hook"}, "内部ネットワーク"),
        ({"url": "javascript:alert(1)"}, "http または https のURLではありません"),
        ({"events": []}, "送信するイベントを1つ以上選んでください。"),
        ({"events": ["completed", "everything"]}, "everything は候補にありません"),
        ({"name": "文書\n管理"}, "改行"),
        ({"name": "　"}, "名前"),
        ({"url": "https://example.jp/" + "a" * 600}, "500"),
    ],
)
def test_bad_input_gets_a_japanese_message_and_saves_nothing(personas, settings, fields, message):
    settings.KEIYAKU_OUTBOUND_ALLOW = []
    values = {"name": "文書管理", "url": "https://1.1.1.1/hook", "events": ["completed"]}
    values.update(fields)
    answer = admin_client(personas).post("/admin-org/webhooks/new/", values)
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_other_staff_get_403_and_other_organisations_404_on_every_webhook_url(personas, receiver):
    admin = admin_client(personas)
    create(admin, receiver.url)
    endpoint = WebhookEndpoint.objects.get()
    admin.post(f"/admin-org/webhooks/{endpoint.pk}/test/")
    delivery = WebhookDelivery.objects.get()
    routes = webhook_routes()
    assert len(routes) == 8
    urls = [
        "/"
        + route.replace("<int:endpoint_id>", str(endpoint.pk)).replace(
            "<int:delivery_id>", str(delivery.pk)
        )
        for route in routes
    ]
    before = (
        list(WebhookEndpoint.objects.values()),
        list(WebhookDelivery.objects.values("pk", "status", "attempts")),
        len(receiver.received),
    )
    outsider = Client()
    outsider.force_login(personas.outsider)  # the other town's admin
    for user, client in (
        (personas.sender, Client()),
        (personas.viewer, Client()),
        (personas.outsider, outsider),
    ):
        client.force_login(user)
        for url in urls:
            for method in ("get", "post"):
                answer = getattr(client, method)(url)
                if user == personas.outsider:
                    with_ids = str(endpoint.pk) in url
                    allowed = (404, 405) if with_ids else (200, 302, 400, 405)
                else:
                    allowed = (403, 405)
                assert answer.status_code in allowed, (user.username, method, url, answer)
                assert "文書管理システム" not in answer.content.decode(), (method, url)
    after = (
        list(WebhookEndpoint.objects.values()),
        list(WebhookDelivery.objects.values("pk", "status", "attempts")),
        len(receiver.received),
    )
    assert after == before
    # The other town's list is its own, and empty.
    assert (
        "Webhookの送信先はまだありません。" in outsider.get("/admin-org/webhooks/").content.decode()
    )
