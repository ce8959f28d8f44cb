from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.login.provider import Account, Provider, running_provider

CALLBACK = "http://testserver/login/oidc/test-city/callback/"
ACCOUNTS = [
    # The same person as the `sender` persona (matched by e-mail or login ID).
    Account("sender", "idp-password-1", "sender@city.example.jp", "契約 花子"),
    # Somebody the organisation has never registered.
    Account("newcomer", "idp-password-2", "newcomer@city.example.jp", "新人 太郎"),
]


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    """node-oidc-provider on loopback, with keiyaku (as seen by Django's test client) as client."""
    with running_provider(
        client_id="keiyaku-test-city", redirect_uris=[CALLBACK], accounts=ACCOUNTS
    ) as provider:
        yield provider


class FakeClock:
    """The sign-in clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        from django.utils import timezone

        self.current = timezone.now()

    def __call__(self):
        return self.current

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.current += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("keiyaku.login.clock.now", fake)
    return fake


@pytest.fixture
def admin(personas):
    from keiyaku.accounts.models import Role
    from keiyaku.accounts.services import staff_create

    return staff_create(
        organisation=personas.org,
        username="admin",
        password=personas.password,
        display_name="管理 太郎",
        email="admin@city.example.jp",
        department=personas.contracts_dept,
        roles=[Role.ADMIN],
    )
