"""Text taken from a request without a form (a search box's `q`, the User-Agent header, the login
ID a password reset is counted against) may hold a NUL. PostgreSQL text cannot hold one and
stops the query with an error, so each such value is made one clean line before it reaches the
database (keiyaku.text_input.one_line): the page answers instead of failing with a 500. On SQLite
these passed before; on PostgreSQL (`make test` runs both) each failed with a server error."""

from __future__ import annotations

import pytest

from keiyaku.audit.models import Event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/addressbook/", "/admin-org/"])
def test_a_search_with_a_nul_answers(client, personas, path: str) -> None:
    client.force_login(personas.admin)
    response = client.get(path, {"q": "契約\x00課"})
    assert response.status_code == 200


def test_a_staff_search_still_finds_around_the_nul(client, personas) -> None:
    client.force_login(personas.admin)
    response = client.get("/admin-org/", {"q": "\x00sender"})
    assert "契約 花子" in response.content.decode()


def test_a_user_agent_with_a_nul_is_recorded_without_it(client, personas) -> None:
    response = client.post(
        "/login/",
        {"username": "sender", "password": personas.password},
        HTTP_USER_AGENT="Mozilla\x00/5.0",
    )
    assert response.status_code == 302
    agents = set(Event.objects.values_list("user_agent", flat=True))
    assert "Mozilla /5.0" in agents  # the NUL became a space
    assert not any("\x00" in agent for agent in agents)


def test_a_password_reset_for_an_address_with_a_nul_answers(client, personas) -> None:
    response = client.post("/password-reset/", {"email": "sender\x00@city.example.jp"})
    assert response.status_code in (200, 302)
