"""An organisation's OpenID issuer cannot make keiyaku call internal addresses (blind SSRF).

The "provider" here is a loopback server that records every request: a refused issuer must
leave it untouched, whether the admin types it on the settings screen or a login starts with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from keiyaku.login.models import OrganisationSignIn
from tests.login.test_admin_screens import SETTINGS, logged_in
from tests.loopback_http import LoopbackServer, loopback_server

REFUSAL = "内部ネットワーク"


@pytest.fixture(autouse=True)
def _default_policy(settings) -> None:
    settings.KEIYAKU_OUTBOUND_ALLOW = []


@pytest.fixture
def recorder() -> Iterator[LoopbackServer]:
    with loopback_server("127.0.0.1") as server:
        yield server


def issuer_stored(personas, issuer: str) -> None:
    """An issuer saved earlier (before the operator's policy changed, or by another route)."""
    OrganisationSignIn.objects.update_or_create(
        organisation=personas.org,
        defaults={
            "oidc_enabled": True,
            "oidc_issuer": issuer,
            "oidc_client_id": "keiyaku",
            "session_timeout_minutes": 60,
        },
    )


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:{port}",
        "http://localhost:{port}",
        "https://10.1.2.3",
        "https://192.168.0.10",
        "http://169.254.169.254",
        "https://[::1]",
    ],
)
def test_admin_cannot_save_an_internal_issuer(personas, admin, recorder, issuer):
    url = issuer.format(port=recorder.port)
    response = logged_in(admin).post("/signin/settings/", {**SETTINGS, "oidc_issuer": url})
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert not OrganisationSignIn.objects.filter(organisation=personas.org).exists()
    assert recorder.hits == []


def test_login_against_an_internal_issuer_is_refused_without_a_request(personas, recorder):
    issuer_stored(personas, recorder.url)
    response = Client().get("/login/oidc/test-city/")
    assert response.status_code == 403
    assert REFUSAL in response.content.decode()
    assert recorder.hits == []


def test_an_allowed_issuer_redirecting_inside_is_refused(personas, settings, recorder):
    """The operator allowed the provider's address; its redirect to another internal address
    is not followed."""
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.2/32"]
    with loopback_server("127.0.0.2") as provider:
        provider.redirect_to = f"{recorder.url}/.well-known/openid-configuration"
        issuer_stored(personas, f"{provider.url}/r")
        response = Client().get("/login/oidc/test-city/")
        assert response.status_code == 403
        assert REFUSAL in response.content.decode()
        assert [hit.path for hit in provider.hits] == ["/r/.well-known/openid-configuration"]
    assert recorder.hits == []


def test_the_operator_can_allow_an_internal_provider(personas, admin, settings, recorder):
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    client = logged_in(admin)
    response = client.post("/signin/settings/", {**SETTINGS, "oidc_issuer": recorder.url})
    assert response.status_code == 302
    assert OrganisationSignIn.objects.get(organisation=personas.org).oidc_issuer == recorder.url
    # The recorder is no OpenID provider: the login is attempted and fails as unreachable.
    response = Client().get("/login/oidc/test-city/")
    assert response.status_code == 502
    assert [hit.path for hit in recorder.hits] == ["/.well-known/openid-configuration"]
