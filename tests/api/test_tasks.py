"""The API's periodic job forgets old Idempotency-Keys (R40)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from keiyaku.api import tasks
from keiyaku.api.models import IdempotentRequest
from keiyaku.contracts.models import Contract
from tests.api.conftest import Api, make_token
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

BODY = {
    "title": "清掃業務委託契約",
    "documents": [
        {"filename": "a.pdf", "content_base64": base64.b64encode(make_pdf(text="委託")).decode()}
    ],
}


def test_the_hourly_job_forgets_keys_older_than_a_day(personas):
    client = Api(make_token(personas.admin).secret)
    start = timezone.now()
    for key, at in (("order-1", start), ("order-2", start + timedelta(hours=20))):
        with time_machine.travel(at, tick=False):
            made = client.post("/contracts", BODY, HTTP_IDEMPOTENCY_KEY=key)
        assert made.status_code == 201, made.content
    replayed = client.post("/contracts", BODY, HTTP_IDEMPOTENCY_KEY="order-1")
    assert replayed["Idempotent-Replayed"] == "true"
    with time_machine.travel(start + timedelta(days=1, minutes=1), tick=False):
        tasks.forget_idempotency_keys.call_local()
        assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["order-2"]
        again = client.post("/contracts", BODY, HTTP_IDEMPOTENCY_KEY="order-1")
    assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
    assert Contract.objects.filter(title=BODY["title"]).count() == 3
