"""Steps of the login screens, as a browser would take them (Django's test client)."""

from __future__ import annotations

import re

from django.test import Client

from keiyaku.login import totp


def password_step(client: Client, username: str, password: str, next_url: str = ""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/login/", data)


def secret_on_page(html: str) -> str:
    found = re.search(r'data-secret="([A-Z2-7]+)"', html)
    assert found, html
    return found.group(1)


def code_for(secret: str, at) -> str:
    return totp.totp(secret, at.timestamp())


def recovery_codes_on_page(html: str) -> list[str]:
    return re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", html)
