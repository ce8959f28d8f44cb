"""A real OpenID provider for the tests: node-oidc-provider, started on loopback.

`npm ci` runs once in oidc_provider/ when node_modules is missing (the npm registry is reachable
from developers' machines and CI); the provider prints its issuer URL once it listens.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode, urljoin

import pytest

HERE = Path(__file__).parent / "oidc_provider"
CLIENT_SECRET = "keiyaku-test-client-secret"


@dataclass(frozen=True)
class Account:
    login: str
    password: str
    email: str
    name: str = ""


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str


def _npm_ci() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the OpenID provider: run `make system-deps`")
    with open(HERE / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test workers may get here at once
        if not (HERE / "node_modules" / "oidc-provider").exists():
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0:
                pytest.fail(f"npm ci failed in {HERE}:\n{done.stdout}\n{done.stderr}")


@contextmanager
def running_provider(
    *, client_id: str, redirect_uris: list[str], accounts: list[Account]
) -> Iterator[Provider]:
    _npm_ci()
    config = {
        "clients": [
            {
                "client_id": client_id,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            }
        ],
        "accounts": {
            a.login: {"password": a.password, "email": a.email, "name": a.name or a.login}
            for a in accounts
        },
    }
    process = subprocess.Popen(
        ["node", "provider.js"],
        cwd=HERE,
        env={**os.environ, "OIDC_CONFIG": json.dumps(config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        if not line:
            pytest.fail(f"the OpenID provider did not start (exit {process.wait(5)})")
        yield Provider(
            issuer=json.loads(line)["issuer"], client_id=client_id, client_secret=CLIENT_SECRET
        )
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class IdpBrowser:
    """Just enough of a browser to sign in at the provider: cookies, manual redirects."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )

    def _open(self, url: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, data=body, timeout=10) as response:
                return response.status, "", response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location", ""), exc.read().decode()

    def sign_in(self, authorize_url: str, *, login: str, password: str, until: str) -> str:
        """Follow the provider's pages from the authorisation URL; return the first URL that
        leaves the provider (starts with `until`, i.e. keiyaku's callback)."""
        url, data = authorize_url, None
        for _ in range(12):
            status, location, body = self._open(url, data)
            data = None
            if location:
                url = urljoin(url, location)
                if url.startswith(until):
                    return url
                continue
            assert status == 200, (status, body[:500])
            action = re.search(r'action="([^"]+)"', body)
            assert action, body[:500]
            url, data = urljoin(url, action.group(1)), {"login": login, "password": password}
        raise AssertionError("the provider did not send us back")
