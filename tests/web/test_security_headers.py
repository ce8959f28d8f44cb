"""Security headers and rate limits (R18, R25, R41): CSP without inline code, HSTS over TLS, 429."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.test import Client

TEMPLATES = sorted(Path(settings.BASE_DIR).glob("**/templates/**/*.html"))


def test_every_page_carries_a_strict_content_security_policy(db):
    response = Client().get("/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_inline_styles_or_scripts():
    assert len(TEMPLATES) > 20
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle\s*=", text), path
        assert not re.search(r"<style", text), path
        for tag in re.findall(r"<script[^>]*>", text):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), path  # onclick= and friends


def test_hsts_is_sent_over_tls(db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    assert "Strict-Transport-Security" not in Client().get("/login/")
    response = Client().get("/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000"


def test_cookies_are_http_only_and_secure_behind_https(personas, settings):
    settings.SESSION_COOKIE_SECURE = True
    client = Client()
    response = client.post(
        "/login/", {"username": "sender", "password": personas.password}, secure=True
    )
    cookie = response.cookies.get(settings.SESSION_COOKIE_NAME)
    if cookie is None:  # a second login step (two-factor) may come first
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["secure"]


def test_access_code_attempts_are_rate_limited_per_address(db, settings):
    settings.KEIYAKU_RATE_ACCESS_CODE = (3, 600)
    client = Client(REMOTE_ADDR="198.51.100.20")
    for n in range(3):
        assert client.post(f"/s/token{n}/", {"code": "0000"}).status_code == 404
    response = client.post("/s/another-token/", {"code": "0000"})
    assert response.status_code == 429
    assert "しばらくお待ちください" in response.content.decode()
    assert response["Retry-After"] == "600"
    # Another address is counted on its own; GET (reading the page) is not limited.
    assert Client(REMOTE_ADDR="198.51.100.21").post("/s/t/", {"code": "0"}).status_code == 404
    assert client.get("/s/token0/").status_code == 404


def test_verification_uploads_are_rate_limited_per_address(db, settings):
    settings.KEIYAKU_RATE_VERIFY = (2, 60)
    client = Client(REMOTE_ADDR="198.51.100.30")
    assert client.post("/verify/").status_code == 200
    assert client.post("/verify/").status_code == 200
    assert client.post("/verify/").status_code == 429
    assert client.get("/verify/").status_code == 200
