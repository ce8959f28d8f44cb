"""Playwright driving Debian's Chromium (/usr/bin/chromium); browsers are not downloaded."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser.screenshots import japanese_fontconfig, shots_folder

CHROMIUM = "/usr/bin/chromium"
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between browser steps are ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, and pyHanko (asyncio.run) must not meet it in the tests that follow in this process.
@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps`")
    env = None
    if shots_folder() is not None:
        # Screenshots for the manuals (make manual) show Japanese in keiyaku's own font.
        fonts = japanese_fontconfig(tmp_path_factory.mktemp("fontconfig"))
        env = {**os.environ, "FONTCONFIG_FILE": str(fonts)}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
            env=env,
        )
        yield browser
        browser.close()


@pytest.fixture
def site(live_server, settings, keiyaku_tsa_url) -> str:
    """The live server, with e-mailed links pointing at it."""
    settings.PUBLIC_URL = live_server.url
    return live_server.url
