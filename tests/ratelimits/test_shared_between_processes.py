"""Acceptance 6: two real web processes on one database see ONE rate limit, not one each; and
the same with the counters in Redis (KEIYAKU_REDIS_URL, issue 11), nothing in the database."""

from __future__ import annotations

import re
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from keiyaku.ratelimits.limiter import rate_count
from keiyaku.ratelimits.models import RateCounter
from tests.web_process import web_process

# The servers are separate processes: they must reach the test database, hence no open
# transaction here (a real commit per request on their side).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LIMIT = 3
# Each process: small limits, and no lockout in the way.
SERVER = {
    "KEIYAKU_RATE_ACCESS_CODE": str(LIMIT),
    "KEIYAKU_LOGIN_RATE_PER_LOGIN_ID": str(LIMIT),
    "KEIYAKU_LOGIN_RATE_PER_IP": "100",
    "KEIYAKU_LOGIN_MAX_FAILURES": "100",
}


def _request(url: str, data: dict[str, str] | None = None, cookie: str = "") -> tuple[int, str]:
    body = urlencode(data).encode() if data is not None else None
    headers = {"Cookie": f"csrftoken={cookie}"} if cookie else {}
    try:
        with urlopen(Request(url, data=body, headers=headers), timeout=30) as response:
            return response.status, response.read().decode()
    except HTTPError as error:
        return error.code, error.read().decode()


def _csrf(url: str) -> tuple[str, str]:
    """The CSRF cookie and the form's token, from the login page."""
    with urlopen(f"{url}/login/", timeout=30) as response:
        cookie = re.search(r"csrftoken=([^;]+)", response.headers["Set-Cookie"])
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode())
    assert cookie is not None and token is not None
    return cookie.group(1), token.group(1)


@pytest.fixture(params=["database", "redis"])
def server_settings(request, settings) -> dict[str, str]:
    """The web processes' settings, and this process's view of where the counters are."""
    if request.param == "redis":
        settings.KEIYAKU_REDIS_URL = request.getfixturevalue("redis_url")
        return {**SERVER, "KEIYAKU_REDIS_URL": settings.KEIYAKU_REDIS_URL}
    settings.KEIYAKU_REDIS_URL = ""
    return SERVER


def test_two_web_processes_share_one_limit(server_settings):
    with web_process(**server_settings) as first, web_process(**server_settings) as second:
        assert first != second
        cookie, token = _csrf(first)
        servers = [first, second]

        # Access codes, per client address: attempts go to each process in turn.
        answers = [
            _request(
                f"{servers[n % 2]}/s/no-such-link-{n}/",
                {"code": "0000", "csrfmiddlewaretoken": token},
                cookie=cookie,
            )
            for n in range(LIMIT + 2)
        ]
        assert [status for status, _page in answers] == [404] * LIMIT + [429, 429]
        assert "しばらくお待ちください" in answers[LIMIT][1]
        assert rate_count("access-code:127.0.0.1") == LIMIT

        # Logins, per login ID: the same, on the sign-in side.
        statuses = [
            _request(
                f"{servers[n % 2]}/login/",
                {"username": "hanako", "password": "wrong", "csrfmiddlewaretoken": token},
                cookie=cookie,
            )[0]
            for n in range(LIMIT + 2)
        ]
        assert statuses == [200] * LIMIT + [429, 429]
        assert rate_count("login-id:hanako") == LIMIT
        # Counted where the settings say: only the database, or only Redis.
        assert RateCounter.objects.exists() is ("KEIYAKU_REDIS_URL" not in server_settings)
