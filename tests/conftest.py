"""Fixed personas and the loopback services the tests need (no network but loopback)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers.s3 import S3Server, running_s3_server

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
def django_db_setup(django_db_setup: object) -> Iterator[None]:
    """The test database as pytest-django migrates it; then the flush after each transactional
    test no longer recreates Django's content types and permissions (`post_migrate`).

    keiyaku uses neither (its roles and rights are its own: `keiyaku.accounts.permissions`,
    `keiyaku.contracts.permissions`), and recreating them for each of the twenty apps after
    every flush was 0.2-0.4 s a test: about a minute of each run. `migrate` outside the suite
    still creates them.
    """
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes
    from django.db.models.signals import post_migrate

    assert post_migrate.disconnect(create_contenttypes)
    assert post_migrate.disconnect(
        create_permissions, dispatch_uid="django.contrib.auth.management.create_permissions"
    )
    _flush_by_delete()
    yield


def _flush_by_delete() -> None:
    """On PostgreSQL, the flush after a transactional test empties the tables with DELETE in
    one transaction instead of one TRUNCATE of every table.

    TRUNCATE gives each of the 34 tables (and their indexes) new files: 0.22-0.3 s a test,
    against under 0.01 s for deleting the few rows a test leaves. Django makes foreign keys
    DEFERRABLE INITIALLY DEFERRED on PostgreSQL, so the order of the DELETEs does not matter:
    they are checked at the commit, when every table is empty. A flush that resets sequences
    keeps Django's own SQL.
    """
    from django.db import connections

    for connection in connections.all():
        if connection.vendor != "postgresql":
            continue
        ops = connection.ops
        truncate = ops.sql_flush

        def sql_flush(
            style, tables, *, reset_sequences=False, allow_cascade=False, ops=ops, truncate=truncate
        ):
            if reset_sequences or not tables:
                return truncate(
                    style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
                )
            return ["SET CONSTRAINTS ALL DEFERRED;"] + [
                f"DELETE FROM {ops.quote_name(table)};"  # noqa: S608 - Django's own table names
                for table in tables
            ]

        ops.sql_flush = sql_flush


@pytest.fixture(scope="session")
def keiyaku_tsa_url(django_db_setup: object) -> Iterator[str]:
    """keiyaku's own time-stamp authority on loopback, used by URL as in production."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TsaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3 wire-protocol server (moto's server mode) in its own process on loopback."""
    with running_s3_server() as server:
        yield server


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on the test S3 server that is keiyaku's object storage for one test."""

    server: S3Server
    bucket: str
    prefix: str

    def key(self, name: str) -> str:
        """The bucket key of storage name ``name``."""
        return f"{self.prefix}/{name}"

    def raw(self, name: str) -> bytes:
        """The bytes at rest of storage name ``name``, read with boto3 (not through keiyaku)."""
        body = self.server.client().get_object(Bucket=self.bucket, Key=self.key(name))["Body"]
        return bytes(body.read())


@pytest.fixture
def s3_storage(s3_server: S3Server, settings) -> S3Bucket:
    """keiyaku's object storage (STORAGES["default"]) in a fresh bucket on the S3 test server,
    under a key prefix, configured through KEIYAKU_STORAGE_URL's parser."""
    from keiyaku.storage.location import parse_storage_url

    bucket = S3Bucket(s3_server, s3_server.create_bucket(), "keiyaku")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": parse_storage_url(
            s3_server.storage_url(bucket.bucket, bucket.prefix),
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
        ),
    }
    return bucket


@dataclass
class Store:
    """The object storage of one test, and a way around keiyaku to see and alter what it holds."""

    kind: str
    folder: Path | None = None
    bucket: S3Bucket | None = None

    def raw(self, name: str) -> bytes:
        """The bytes at rest under storage name ``name``, read without keiyaku."""
        if self.bucket is not None:
            return self.bucket.raw(name)
        assert self.folder is not None
        return (self.folder / name).read_bytes()

    def tamper(self, name: str, data: bytes) -> None:
        """Replace the object as somebody with direct access to the disk or bucket could."""
        if self.bucket is not None:
            self.bucket.server.client().put_object(
                Bucket=self.bucket.bucket, Key=self.bucket.key(name), Body=data
            )
            return
        assert self.folder is not None
        (self.folder / name).write_bytes(data)


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, settings, tmp_path: Path) -> Store:
    """The test runs twice: with keiyaku's objects in a local folder, and in an S3 bucket."""
    from keiyaku.storage.location import parse_storage_url

    if request.param == "file":
        folder = tmp_path / "objects"
        settings.STORAGES = {**settings.STORAGES, "default": parse_storage_url(folder.as_uri())}
        return Store("file", folder=folder)
    return Store("s3", bucket=request.getfixturevalue("s3_storage"))


_DATABASE_FIXTURES = {"db", "transactional_db", "live_server"}


def _uses_database(item: pytest.Item) -> bool:
    """A test that may reach the suite's database: marked `django_db` or using a database
    fixture, itself or through another fixture. pytest-django refuses database access to every
    other test, so those run the same code whatever the suite's database is."""
    return item.get_closest_marker("django_db") is not None or bool(
        _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def _on_every_database(item: pytest.Item) -> bool:
    """A test the PostgreSQL run repeats: it reaches the database, and is neither marked
    ``database_independent`` nor a browser test. A browser test examines what a page shows and
    does in Chromium; the services and views under it, and their queries, are tested on both
    engines by the tests that drive them directly."""
    return (
        _uses_database(item)
        and item.get_closest_marker("database_independent") is None
        and item.get_closest_marker("browser") is None
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest files first; and the PostgreSQL run leaves out tests that cannot reach a database.

    Order: `make test` spreads whole files over two workers (``--dist loadfile``) in the order
    collected. A file estimated long (`_file_seconds`) starts first, so that the short ones fill
    in at the end and both workers finish together, instead of one running a five-minute file
    alone at the end.

    Selection: `make test` runs the suite twice, on SQLite and on PostgreSQL (issue 11). The
    second run leaves out the tests that cannot reach a database (`_uses_database`), those
    marked ``database_independent`` (they reach it, but what they examine, a PDF kind or a
    page's layout, is the same on any engine) and the browser tests (`_on_every_database`):
    they ran in the first, and would run the same code again. `KEIYAKU_TEST_EVERY_TEST=1` keeps them.
    """
    seconds = _file_seconds(items)
    items.sort(key=lambda item: -seconds[item.path])  # stable: a file keeps its own order
    if os.environ.get("KEIYAKU_TEST_DATABASE") != "postgres":
        return
    if os.environ.get("KEIYAKU_TEST_EVERY_TEST") == "1":
        return
    kept = [item for item in items if _on_every_database(item)]
    left = [item for item in items if not _on_every_database(item)]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def _file_seconds(items: list[pytest.Item]) -> dict[Path, float]:
    """Estimated seconds per test file: a test marked ``slow(seconds=N)`` counts N, one marked
    ``slow`` 10, any other 0.1."""
    total: dict[Path, float] = {}
    for item in items:
        marker = item.get_closest_marker("slow")
        cost = 0.1 if marker is None else float(marker.kwargs.get("seconds", 10))
        total[item.path] = total.get(item.path, 0.0) + cost
    return total


@pytest.fixture(autouse=True)
def _uploads_checked_afresh() -> None:
    """Each test checks its uploads afresh (keiyaku.signing.ingest keeps the last accepted
    ones per process): a test that changes how uploads are checked must see its change."""
    from keiyaku.signing.ingest import forget_accepted_uploads

    forget_accepted_uploads()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """The rate limiter counts attempts in the database; every test that uses it starts at zero
    (a test's own counts also go with its transaction, or the flush after it)."""
    if not _uses_database(request.node):
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


# --- maintenance notices (keiyaku.operations.notices) ------------------------------------------
@pytest.fixture(autouse=True)
def _no_maintenance_notices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no notice in its database: say so to the per-process rows (a
    notice of an earlier test is gone), and keep them until a service changes them, so that
    no page's query count depends on when the rows were last read."""
    from keiyaku.operations import notices

    monkeypatch.setattr(notices, "REFRESH_SECONDS", 24 * 3600.0)
    notices.notices_prime(())
