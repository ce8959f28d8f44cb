"""Acceptance 6: two real web processes on one database see ONE rate limit, not one each."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from django.db import connection

from keiyaku.ratelimits.models import RateCounter

# The servers are separate processes: they must reach the test database, hence no open
# transaction here (a real commit per request on their side).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LIMIT = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@contextmanager
def web_process() -> Iterator[str]:
    """`keiyaku runserver` in its own process, on the test database, with small limits."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "KEIYAKU_TEST_DB": str(connection.settings_dict["NAME"]),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "KEIYAKU_RATE_ACCESS_CODE": str(LIMIT),
        "KEIYAKU_LOGIN_RATE_PER_LOGIN_ID": str(LIMIT),
        "KEIYAKU_LOGIN_RATE_PER_IP": "100",
        "KEIYAKU_LOGIN_MAX_FAILURES": "100",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "keiyaku.cli", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(f"{url}/login/")[0] == 200:
                    break
            except (URLError, ConnectionError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the web process did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()  # type: ignore[union-attr]


def test_two_web_processes_share_one_limit():
    with web_process() as first, web_process() as second:
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
        assert RateCounter.objects.get(key="access-code:127.0.0.1").count == LIMIT

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
        assert RateCounter.objects.get(key="login-id:hanako").count == LIMIT
