"""keiyaku's web server in a process of its own, and browsers that talk to it over HTTP.

For tests that must reproduce from outside: several real requests at once, each browser with its
own cookies, against `keiyaku runserver` on the shared test database (a file). The test using
them needs `pytest.mark.django_db(transaction=True)`: the server only sees committed rows.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from tests.loopback_http import free_port
from tests.process_environment import on_test_database

T = TypeVar("T")

_TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    location: str = ""


class Browser:
    """One browser: its own cookies, the CSRF token of the last form it was shown, and
    (behind a trusted proxy) its own client address. Redirects are answers, not followed.

    `connect()` opens the connection of the next request ahead of time: the development
    server accepts only a few connections at once, so a test that sends many requests together
    connects first and sends when all are connected.
    """

    def __init__(self, base_url: str, *, address: str = "") -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.address = address
        self.token = ""
        self.cookies: dict[str, str] = {}
        self._next: HTTPConnection | None = None

    def connect(self) -> None:
        self._next = HTTPConnection(self.host, self.port, timeout=120)
        self._next.connect()

    def get(self, path: str) -> Answer:
        answer = self._send("GET", path)
        found = _TOKEN_RE.search(answer.body)
        if found:
            self.token = found.group(1)
        return answer

    def post(self, path: str, data: dict[str, str]) -> Answer:
        body = urlencode({**data, "csrfmiddlewaretoken": self.token})
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: str | None = None) -> Answer:
        headers = {"Referer": f"http://{self.host}:{self.port}{path}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.address:
            headers["X-Forwarded-For"] = self.address
        connection, self._next = self._next or HTTPConnection(self.host, self.port), None
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return Answer(
                response.status, response.read().decode(), response.getheader("Location") or ""
            )
        finally:
            connection.close()


def all_at_once(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run the actions in threads released together; their results in the given order."""
    results: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []
    start = threading.Barrier(len(actions))

    def run(number: int) -> None:
        try:
            start.wait(timeout=60)
            results[number] = actions[number]()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]
    return results


def post_all_at_once(posts: Sequence[tuple[Browser, str, dict[str, str]]]) -> list[Answer]:
    """Each (browser, path, form) posted at the same moment, once every browser is connected."""
    for browser, _path, _form in posts:
        browser.connect()
    return all_at_once([lambda b=b, p=p, f=f: b.post(p, f) for b, p, f in posts])


@contextmanager
def web_process(**environment: str) -> Iterator[str]:
    """`keiyaku runserver` (threaded) in its own process on the test database; its base URL.

    `environment` adds KEIYAKU_* settings for that process (limits, trusted proxies …).
    """
    port = free_port()
    env = on_test_database(**environment)
    # The server's log goes to a file: a pipe nobody reads would stop it once full.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "keiyaku.cli", "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if Browser(url).get("/login/").status == 200:
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise AssertionError(f"the web process did not start: {log.read()!r}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
