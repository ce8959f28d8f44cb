"""管理 → APIトークン: made by admins, shown once, stored hashed, revoked (R40)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.api.models import ApiToken
from keiyaku.audit.models import Event
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def signed_in(user, password: str) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_makes_a_token_shown_once_and_stored_hashed(personas):
    client = signed_in(personas.admin, personas.password)
    made = client.post(
        "/admin-org/api-tokens/",
        {
            "name": "文書管理システム",
            "scope": "read",
            "acting": str(personas.sender.pk),
            "expires_on": "2099-01-01",
        },
    )
    assert made.status_code == 400  # too far ahead: the service's rule, on the form
    day = (timezone.localdate() + timedelta(days=30)).isoformat()
    made = client.post(
        "/admin-org/api-tokens/",
        {
            "name": "文書管理システム",
            "scope": "read",
            "acting": str(personas.sender.pk),
            "expires_on": day,
        },
    )
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    page = made.content.decode()
    token = ApiToken.objects.get()
    secret = page.split("<code>kyk_", 1)[1].split("</code>", 1)[0]
    secret = "kyk_" + secret
    assert token.digest != secret and secret not in token.digest and token.prefix == secret[:12]
    assert token.staff == personas.sender and not token.organisation_wide
    assert secret not in client.get("/admin-org/api-tokens/").content.decode()
    assert Api(secret).get("/contracts").status_code == 200
    assert Event.objects.filter(event="api_token.create").count() == 1
    client.post(f"/admin-org/api-tokens/{token.pk}/revoke/")
    assert Api(secret).get("/contracts").status_code == 401


def test_only_admins_reach_the_screen(personas):
    assert (
        signed_in(personas.sender, personas.password).get("/admin-org/api-tokens/").status_code
        == 403
    )
    outsider = signed_in(personas.outsider, personas.password)
    made = outsider.post(
        "/admin-org/api-tokens/",
        {
            "name": "x",
            "scope": "read",
            "acting": str(personas.sender.pk),
            "expires_on": "2026-12-31",
        },
    )
    assert made.status_code == 400 and not ApiToken.objects.exists()
