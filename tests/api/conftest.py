"""Tokens and a client that sends them (R40)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.api.tokens import api_token_create


def make_token(admin, *, scope: str = "write", staff=None, wide: bool = True, name: str = ""):
    """A token of the admin's organisation (its secret)."""
    return api_token_create(
        actor=admin,
        name=name or f"連携-{scope}-{timezone.now().timestamp()}",
        scope=scope,
        staff=staff,
        organisation_wide=wide,
        expires_at=timezone.now() + timedelta(days=30),
    )


class Api:
    """A client of /api/v1 with one token."""

    def __init__(self, secret: str, **headers: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)

    def get(self, path: str, data=None, **kwargs):
        return self.client.get(f"/api/v1{path}", data, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.client.post(
            f"/api/v1{path}", data or {}, content_type="application/json", **kwargs
        )

    def patch(self, path: str, data=None, **kwargs):
        return self.client.patch(
            f"/api/v1{path}", data or {}, content_type="application/json", **kwargs
        )

    def delete(self, path: str, **kwargs):
        return self.client.delete(f"/api/v1{path}", **kwargs)


@pytest.fixture
def api(personas) -> Api:
    """A write token of the test city acting organisation-wide (as its admin)."""
    return Api(make_token(personas.admin).secret)
