"""The verification code docs/api.md gives receivers ("Webhooks", "Verifying") runs as written
against a real delivery: it accepts keiyaku's signature and refuses a wrong secret, an altered
body and an old timestamp."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keiyaku.webhooks import services
from keiyaku.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_verify():
    text = API_MD.read_text(encoding="utf-8")
    part = text.split("### Verifying", 1)[1]
    code = re.search(r"```python\n(.*?)```", part, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(API_MD), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["keiyaku_verify"]


def test_the_documented_check_verifies_a_real_delivery(personas, receiver):
    verify = documented_verify()
    endpoint, secret = services.webhook_endpoint_create(
        organisation=personas.org,
        actor=personas.admin,
        name="財務会計",
        url=receiver.url,
        events=["completed"],
    )
    services.webhook_test_send(endpoint=endpoint, actor=personas.admin)
    (got,) = receiver.received
    header = got.headers["Keiyaku-Signature"]
    sent_at = WebhookDelivery.objects.get().attempt_log.get().started_at.timestamp()
    assert verify(header, got.body, secret, now=sent_at)
    assert verify(header, got.body, secret)  # now: the attempt was a moment ago
    assert not verify(header, got.body, "whsec_" + "x" * 43, now=sent_at)
    assert not verify(header, got.body.replace(b"test", b"TEST"), secret, now=sent_at)
    assert not verify(header, got.body, secret, now=sent_at + 301)
    assert not verify("v1=" + header.split("v1=")[1], got.body, secret, now=sent_at)
