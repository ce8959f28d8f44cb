"""Fixed personas and the loopback services the tests need (no network but loopback)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest_plugins = ["tests.fixtures_pki", "tests.refusal_recorder", "tests.servers.redis"]


class _TsaHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        from keiyaku.pki import tsa
        from keiyaku.pki.service import get_authority

        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        reply = tsa.respond(body, authority=get_authority())
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def keiyaku_tsa_url(django_db_setup: object) -> Iterator[str]:
    """keiyaku's own time-stamp authority on loopback, used by URL as in production."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TsaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()


_DATABASE_FIXTURES = {"db", "transactional_db", "live_server"}


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """The rate limiter counts attempts in the database; every test that uses it starts at zero
    (a test's own counts also go with its transaction, or the flush after it)."""
    uses_database = request.node.get_closest_marker("django_db") or (
        _DATABASE_FIXTURES & set(request.fixturenames)
    )
    if not uses_database:
        return
    from keiyaku.ratelimits.models import RateCounter

    request.getfixturevalue("django_db_setup")
    with request.getfixturevalue("django_db_blocker").unblock():
        RateCounter.objects.all().delete()


@pytest.fixture(autouse=True)
def _default_language_after_each_test() -> Iterator[None]:
    """LocaleMiddleware leaves a request's language active in this thread: a test that browsed
    in English must not make the next test's services refuse in English."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _capture_mail(settings) -> None:
    """Django's test set-up swaps in the locmem back end; keiyaku's tests read the mailbox.

    The capture back end stands in for the relay ("trial": only trial organisations are captured
    whatever the back end), so a test may put a real SMTP server in its place.
    """
    settings.EMAIL_BACKEND = "keiyaku.notifications.mailbox.CaptureBackend"
    settings.KEIYAKU_MAIL_CAPTURE = "trial"


@pytest.fixture(autouse=True)
def _use_loopback_tsa(request: pytest.FixtureRequest, settings) -> None:
    if "keiyaku_tsa_url" in request.fixturenames or request.node.get_closest_marker("django_db"):
        url = request.getfixturevalue("keiyaku_tsa_url")
        settings.KEIYAKU_TSA_URLS = [url]
        from keiyaku.signing import keys

        for name in ("get_timestamper",):
            getattr(getattr(keys, name), "cache_clear", lambda: None)()


class Personas:
    """An organisation with its staff, a second department, and an outsider organisation."""

    def __init__(self) -> None:
        from keiyaku.accounts.models import Role
        from keiyaku.accounts.services import (
            department_get_or_create,
            organisation_create,
            staff_create,
        )

        self.password = "correct horse battery"
        self.org = organisation_create(name="テスト市", slug="test-city")
        self.contracts_dept = department_get_or_create(organisation=self.org, name="契約課")
        self.other_dept = department_get_or_create(organisation=self.org, name="土木課")
        self.sender = staff_create(
            organisation=self.org,
            username="sender",
            password=self.password,
            display_name="契約 花子",
            email="sender@city.example.jp",
            department=self.contracts_dept,
            roles=[Role.SENDER],
        )
        self.mayor = staff_create(
            organisation=self.org,
            username="mayor",
            password=self.password,
            display_name="市長 一郎",
            email="mayor@city.example.jp",
            department=self.other_dept,
            roles=[Role.SIGNER],
        )
        self.general_dept = department_get_or_create(organisation=self.org, name="総務課")
        self.admin = staff_create(
            organisation=self.org,
            username="city-admin",
            password=self.password,
            display_name="管理 太郎",
            email="kanri@city.example.jp",
            department=self.general_dept,
            roles=[Role.ADMIN, Role.SENDER],
        )
        self.viewer = staff_create(
            organisation=self.org,
            username="city-viewer",
            password=self.password,
            display_name="閲覧 次郎",
            email="etsuran@city.example.jp",
            department=self.contracts_dept,
            roles=[Role.VIEWER],
        )
        self.outsider_org = organisation_create(name="よそ町", slug="other-town")
        self.outsider = staff_create(
            organisation=self.outsider_org,
            username="outsider",
            password=self.password,
            display_name="他町 職員",
            email="staff@other-town.example.jp",
            roles=[Role.ADMIN, Role.SENDER],
        )


@pytest.fixture
def personas(db: object) -> Personas:
    return Personas()
