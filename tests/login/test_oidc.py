"""Single sign-on against a real OpenID provider (node-oidc-provider on loopback)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from keiyaku.accounts.models import Role, Staff
from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM
from keiyaku.login.services import PolicyValues, organisation_signin_update
from tests.login.conftest import CALLBACK
from tests.login.provider import IdpBrowser


@pytest.fixture(autouse=True)
def _callbacks_on_testserver(settings) -> None:
    settings.PUBLIC_URL = "http://testserver"
    # The test provider listens on loopback, which keiyaku refuses unless the operator allows it.
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]


def configure(personas, admin, provider, *, match: str = "email", create: bool = False) -> None:
    organisation_signin_update(
        organisation=personas.org,
        actor=admin,
        values=PolicyValues(
            totp_required=False,
            session_timeout_minutes=60,
            oidc_enabled=True,
            oidc_issuer=provider.issuer,
            oidc_client_id=provider.client_id,
            oidc_client_secret=provider.client_secret,
            oidc_match=match,
            oidc_create_users=create,
        ),
        meta=SYSTEM,
    )


def sso(client: Client, *, login: str, password: str, next_url: str = ""):
    """From keiyaku's button through the provider's sign-in page back to keiyaku's callback."""
    start = "/login/oidc/test-city/" + (f"?next={next_url}" if next_url else "")
    response = client.get(start)
    assert response.status_code == 302, response.content
    authorize = response["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    callback = IdpBrowser().sign_in(authorize, login=login, password=password, until=CALLBACK)
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}")


def test_login_page_offers_the_organisations_button(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider)
    page = Client().get("/login/").content.decode()
    assert "テスト市のアカウントでログイン" in page
    assert "よそ町のアカウントでログイン" not in page


def test_the_button_in_english(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider)
    page = Client(headers={"accept-language": "en"}).get("/login/").content.decode()
    assert "Log in with your テスト市 account" in page
    assert "Forgot your password?" in page and "ログイン" not in page


def test_sso_login_matched_by_email(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider)
    client = Client()
    response = sso(client, login="sender", password="idp-password-1", next_url="/verify/")
    assert response.status_code == 302 and response["Location"] == "/verify/"
    assert client.get("/").status_code == 200
    assert client.get("/").context["user"] == personas.sender
    event = Event.objects.filter(event="login.success").get()
    assert event.actor == personas.sender and event.detail == {"method": "oidc"}


def test_sso_login_matched_by_login_id(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider, match="username")
    Staff.objects.filter(pk=personas.sender.pk).update(email="changed@city.example.jp")
    client = Client()
    assert sso(client, login="sender", password="idp-password-1")["Location"] == "/"


def test_unknown_user_is_refused_when_creation_is_off(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider)
    client = Client()
    response = sso(client, login="newcomer", password="idp-password-2")
    assert response.status_code == 403
    page = response.content.decode()
    assert "テスト市の職員として登録されていないため、ログインできません。" in page
    assert client.get("/").status_code == 302
    assert not Staff.objects.filter(email="newcomer@city.example.jp").exists()
    failure = Event.objects.get(event="login.failure")
    assert failure.detail["reason"] == "oidc_unknown_user"


def test_unknown_user_is_created_as_viewer_when_creation_is_on(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider, create=True)
    client = Client()
    assert sso(client, login="newcomer", password="idp-password-2")["Location"] == "/"
    staff = Staff.objects.get(email="newcomer@city.example.jp")
    assert staff.organisation == personas.org and staff.roles == [Role.VIEWER]
    assert staff.username == "newcomer" and staff.display_name == "新人 太郎"
    assert not staff.has_usable_password()
    assert client.get("/").context["user"] == staff
    # The second time the same staff member is found, not created again.
    assert sso(Client(), login="newcomer", password="idp-password-2")["Location"] == "/"
    assert Staff.objects.filter(email="newcomer@city.example.jp").count() == 1


def test_forged_state_is_refused(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider)
    client = Client()
    authorize = client.get("/login/oidc/test-city/")["Location"]
    callback = IdpBrowser().sign_in(
        authorize, login="sender", password="idp-password-1", until=CALLBACK
    )
    parts = urlsplit(callback)
    query = parts.query.replace("state=", "state=x")
    response = client.get(f"{parts.path}?{query}")
    assert response.status_code == 400
    assert "不正な要求です" in response.content.decode()
    # A callback replayed into another browser has no state at all.
    response = Client().get(f"{parts.path}?{parts.query}")
    assert response.status_code == 400


def test_wrong_client_secret_is_refused_with_a_message(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider)
    organisation_signin_update(
        organisation=personas.org,
        actor=admin,
        values=PolicyValues(
            totp_required=False,
            session_timeout_minutes=60,
            oidc_enabled=True,
            oidc_issuer=oidc_provider.issuer,
            oidc_client_id=oidc_provider.client_id,
            oidc_client_secret="not-the-secret",
            oidc_match="email",
            oidc_create_users=False,
        ),
        meta=SYSTEM,
    )
    response = sso(Client(), login="sender", password="idp-password-1")
    assert response.status_code == 400
    assert "IDプロバイダからの応答を確認できませんでした。" in response.content.decode()


def test_unreachable_provider_is_a_message_not_a_500(personas, admin, oidc_provider):
    configure(personas, admin, oidc_provider)
    from keiyaku.login.models import OrganisationSignIn

    OrganisationSignIn.objects.update(oidc_issuer="http://127.0.0.1:9")
    response = Client().get("/login/oidc/test-city/")
    assert response.status_code == 502
    assert "IDプロバイダに接続できませんでした" in response.content.decode()


def test_organisation_without_sso_has_no_button_and_404(personas):
    assert Client().get("/login/oidc/test-city/").status_code == 404
    assert Client().get("/login/oidc/no-such-town/").status_code == 404
    assert "のアカウントでログイン" not in Client().get("/login/").content.decode()


def test_id_token_with_another_nonce_is_refused(personas, admin, oidc_provider):
    """The nonce in the signed ID token must be the one this browser's session sent."""
    configure(personas, admin, oidc_provider)
    client = Client()
    authorize = client.get("/login/oidc/test-city/")["Location"]
    session = client.session
    session["signin.oidc"] = {**session["signin.oidc"], "nonce": "another-nonce"}
    session.save()
    callback = IdpBrowser().sign_in(
        authorize, login="sender", password="idp-password-1", until=CALLBACK
    )
    parts = urlsplit(callback)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 400
    assert "IDプロバイダからの応答を確認できませんでした。" in response.content.decode()
    assert client.get("/").status_code == 302
