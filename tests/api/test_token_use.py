"""A token's last-used time (issue 16, R40): set by a call, shown to the admin, and written
at most once per `LAST_USED_RESOLUTION`, without a query on the calls in between."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from keiyaku.api.models import ApiToken
from keiyaku.api.tokens import LAST_USED_RESOLUTION
from tests.api.conftest import Api, make_token

pytestmark = pytest.mark.django_db


def _token_writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "api_apitoken"')
    ]


def test_a_call_records_when_the_token_was_used_once_per_resolution(personas, monkeypatch):
    made = make_token(personas.admin, scope="read")
    api = Api(made.secret)
    assert ApiToken.objects.get().last_used_at is None

    with CaptureQueriesContext(connection) as first:
        assert api.get("/contracts").status_code == 200
    used = ApiToken.objects.get().last_used_at
    assert used is not None and len(_token_writes(first)) == 1

    with CaptureQueriesContext(connection) as again:
        assert api.get("/contracts").status_code == 200
    assert _token_writes(again) == []
    assert ApiToken.objects.get().last_used_at == used

    later = timezone.now() + LAST_USED_RESOLUTION + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert api.get("/contracts").status_code == 200
    assert ApiToken.objects.get().last_used_at == later
