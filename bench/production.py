"""The production set-up the web and worker benchmarks run on (issue 11, acceptance 5).

    with installation() as site:                      # PostgreSQL, Redis, S3; Django set up here
        seeded = seed(contracts=1000, sessions=100)   # an organisation, through the services
        with site.web(workers=2, threads=4) as web:   # gunicorn as `keiyaku serve` starts it
            ...
        with site.consumers(2) as workers:            # `keiyaku run_huey`, as serve starts it
            ...

The servers are the tests' own (tests/servers/: a private PostgreSQL cluster on a Unix socket,
redis-server on a Unix socket, moto's S3 server on loopback), each in a temporary folder and
stopped at the end. Every keiyaku process, this one included, gets the same ``KEIYAKU_*``
environment (:attr:`Installation.env`): ``KEIYAKU_DATABASE_URL``, ``KEIYAKU_REDIS_URL``,
``KEIYAKU_STORAGE_URL`` and one data folder for the generated secrets and the local PKI. The
time-stamp authority is keiyaku's own ``/pki/tsa`` on the web server, the production default.

The web server is started with the command `keiyaku serve` runs
(:func:`keiyaku.operations.server.web_command`: gunicorn, gthread, the project's gunicorn
settings) and the consumers with :func:`keiyaku.operations.server.worker_command`; each is
given this process as its parent, so a bench killed hard leaves nothing running.

Seeding calls the services as the tests do (tests/flow.py), never HTTP, in a few processes at
once (about 80 queries and 0.7 s a contract on a busy 2-core machine). Two costs that the
benchmarks do not measure are left out of it: ``ingest_pdf`` (the upload check, seconds in a
budgeted child per file) runs once per distinct file and its result is reused, since the seeded
contracts share one PDF; and access codes are hashed with a fast hasher (PBKDF2 took about 1 s a
code), as the tests do.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery"  # noqa: S105 - a throw-away benchmark organisation
ACCESS_CODE = "1234"


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) memory of process ``pid`` in MB, from /proc (VmRSS, VmHWM);
    (0, 0) when it has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
    return int(values.get("VmRSS", 0)) / 1024, int(values.get("VmHWM", 0)) / 1024


def children_of(pid: int) -> list[int]:
    """The direct children of ``pid`` (gunicorn's web workers under its master)."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


@dataclass
class Process:
    """A keiyaku process this bench started, with its log file."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class WebServer:
    """gunicorn's master (``process``) and its address; ``workers()`` lists the web workers."""

    process: Process
    base_url: str
    workers_count: int
    threads: int

    def workers(self) -> list[int]:
        return children_of(self.process.pid)


@dataclass
class Installation:
    """The running servers and the environment every keiyaku process of the bench gets."""

    folder: Path
    env: dict[str, str]
    port: int
    redis_url: str
    _processes: list[Process] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, command: list[str], name: str, env: dict[str, str] | None = None) -> Process:
        log = self.folder / f"{name}-{uuid.uuid4().hex[:6]}.log"
        from keiyaku.process_lifetime import PARENT_ENV

        with open(log, "wb") as out:
            popen = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                command,
                env={**os.environ, **self.env, **(env or {}), PARENT_ENV: str(os.getpid())},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
            )
        process = Process(popen=popen, log=log)
        self._processes.append(process)
        return process

    @contextmanager
    def web(
        self, *, workers: int, threads: int = 4, env: dict[str, str] | None = None
    ) -> Iterator[WebServer]:
        """gunicorn with ``workers`` processes of ``threads`` threads on :attr:`port`, started
        as `keiyaku serve` starts it (``env``: settings for it alone, over the installation's);
        returns once every worker answers ``/healthz``."""
        from keiyaku.operations.server import WebOptions, web_command

        command = web_command(
            WebOptions(addr=f"127.0.0.1:{self.port}", workers=workers, threads=threads, timeout=300)
        )
        process = self._spawn(command, f"web-{workers}x{threads}", env)
        server = WebServer(process, self.base_url, workers, threads)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{process.log_tail()}")
                if len(server.workers()) == workers and _get_status(self.port, "/healthz") == 200:
                    break
                time.sleep(0.2)
            yield server
        finally:
            process.stop()

    @contextmanager
    def consumers(
        self, count: int, *, threads: int = 2, queue: str = "redis"
    ) -> Iterator[list[Process]]:
        """``count`` queue consumers (`keiyaku run_huey`, ``threads`` worker threads each, no
        periodic jobs: the bench times the jobs it queues), stopped at the end. ``queue``
        "sqlite": they read the SQLite queue file of the data folder instead of Redis (the
        embedded set-up's queue; see :func:`queue_on`)."""
        from keiyaku.operations.server import worker_command

        env = {"KEIYAKU_REDIS_URL": ""} if queue == "sqlite" else {}
        started = [
            self._spawn(
                [*worker_command(), "--workers", str(threads), "--no-periodic"],
                f"consumer-{queue}-{n}",
                env,
            )
            for n in range(count)
        ]
        try:
            yield started
        finally:
            for process in started:
                process.stop()


@contextmanager
def queue_on(site: Installation, queue: str) -> Iterator[None]:
    """Jobs this process queues go to ``queue``: "redis" (the installation's, the default) or
    "sqlite" (the queue file in the data folder that ``site.consumers(queue="sqlite")`` read)."""
    if queue == "redis":
        yield
        return
    from huey.contrib.djhuey import HUEY
    from huey.storage import SqliteStorage

    storage = HUEY.storage
    HUEY.storage = SqliteStorage(
        name=HUEY.name, filename=str(Path(site.env["KEIYAKU_DATA_DIR"]) / "huey.sqlite3")
    )
    try:
        yield
    finally:
        HUEY.storage = storage


def _get_status(port: int, path: str) -> int:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return 0


@contextmanager
def installation(*, extra_env: dict[str, str] | None = None) -> Iterator[Installation]:
    """Start PostgreSQL, Redis and the S3 server, point this process's Django at them
    (``django.setup()`` runs here, once per process), migrate, create the local authority and
    collect the static files. Everything is stopped and removed at the end. ``extra_env``:
    more ``KEIYAKU_*`` settings for every process (bench/memory.py raises the file size
    limit)."""
    from tests.loopback_http import free_port
    from tests.servers.postgres import running_postgres
    from tests.servers.redis import running_redis
    from tests.servers.s3 import running_s3_server

    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="keiyaku-bench-"))
        stack.callback(shutil.rmtree, folder, True)
        postgres = stack.enter_context(running_postgres())
        redis = stack.enter_context(running_redis())
        s3 = stack.enter_context(running_s3_server())
        port = free_port()
        env = {
            "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
            "PYTHONPATH": str(ROOT),
            "KEIYAKU_DATA_DIR": str(folder / "data"),
            "KEIYAKU_DATABASE_URL": postgres.url(),
            "KEIYAKU_REDIS_URL": redis.url,
            **s3.environ(s3.create_bucket(), "keiyaku"),
            "KEIYAKU_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "KEIYAKU_LOG_LEVEL": "WARNING",
            # Every counterparty session is opened from this process's one address.
            "KEIYAKU_RATE_ACCESS_CODE": "1000000",
            **(extra_env or {}),
        }
        # Only this installation's settings: none inherited (a test run's inline jobs, say).
        for name in [name for name in os.environ if name.startswith("KEIYAKU_")]:
            del os.environ[name]
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        from keiyaku.operations.static_files import collect_static_if_needed
        from keiyaku.pki.service import get_authority

        call_command("migrate", interactive=False, verbosity=0)
        get_authority()
        collect_static_if_needed()
        site = Installation(folder=folder, env=env, port=port, redis_url=redis.url)
        try:
            yield site
        finally:
            for process in site._processes:
                process.stop()
            from django.db import connections

            connections.close_all()


# --- seeding ---------------------------------------------------------------------------------


@dataclass
class Seeded:
    """The organisation the benches use.

    staff_cookie: the session cookie ("name=value") of the sender, who sees every contract.
    contracts: ids of every seeded contract (each: one counterparty, then the mayor).
    sessions: for the first ``sessions`` contracts, the counterparty's signing link (a path)
        and session cookie, with the code already proven.
    personas: the organisation (``org``), its ``sender`` and its ``mayor`` (the last signer).
    """

    staff_cookie: str
    contracts: list[str]
    sessions: list[tuple[str, str]]
    personas: Any


class _Personas:
    def __init__(self) -> None:
        from keiyaku.accounts.models import Role
        from keiyaku.accounts.services import (
            department_get_or_create,
            organisation_create,
            staff_create,
        )

        self.org = organisation_create(name="ベンチ市", slug=f"bench-{uuid.uuid4().hex[:8]}")
        department = department_get_or_create(organisation=self.org, name="契約課")
        self.sender = staff_create(
            organisation=self.org,
            username=f"sender-{self.org.slug}",
            password=PASSWORD,
            display_name="契約 花子",
            email=f"sender@{self.org.slug}.example.jp",
            department=department,
            roles=[Role.SENDER],
        )
        self.mayor = staff_create(
            organisation=self.org,
            username=f"mayor-{self.org.slug}",
            password=PASSWORD,
            display_name="市長 一郎",
            email=f"mayor@{self.org.slug}.example.jp",
            department=department_get_or_create(organisation=self.org, name="市長室"),
            roles=[Role.SIGNER],
        )


@contextmanager
def _ingest_once_per_file() -> Iterator[None]:
    """``ingest_pdf`` checks each distinct file once; the same bytes again get its result."""
    import hashlib

    from keiyaku.contracts.services import drafting

    original = drafting.ingest_pdf
    seen: dict[str, Any] = {}

    def ingest(data: Any, **kwargs: Any) -> Any:
        raw = data if isinstance(data, bytes) else Path(data).read_bytes()
        key = hashlib.sha256(raw).hexdigest()
        if key not in seen:
            seen[key] = original(data, **kwargs)
        return seen[key]

    drafting.ingest_pdf = ingest  # type: ignore[assignment]
    try:
        yield
    finally:
        drafting.ingest_pdf = original  # type: ignore[assignment]


@contextmanager
def jobs_inline() -> Iterator[None]:
    """Jobs queued by this process run here at once (Huey's immediate mode): seeding delivers
    its e-mail (the links are read from the captured mail) without a consumer."""
    from huey.contrib.djhuey import HUEY

    storage = HUEY.storage
    HUEY.immediate = True
    try:
        yield
    finally:
        HUEY.immediate = False
        HUEY.storage = storage


def cookie_of(client: Any) -> str:
    """The "name=value" session cookie of a Django test client."""
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def new_contract(personas: Any, number: int, *, pdf: bytes) -> tuple[Any, Any]:
    """A sent contract: one counterparty (asked first), then the mayor. (contract, External)."""
    from keiyaku.contracts import services
    from keiyaku.contracts.services.drafting import Upload
    from tests.flow import External

    external = External(
        company=f"株式会社ベンチ建設{number}",
        name="山田 太郎",
        email=f"party{number}-{uuid.uuid4().hex[:6]}@example.jp",
        code=ACCESS_CODE,
    )
    contract = services.contract_create(
        actor=personas.sender,
        title=f"令和8年度 道路補修工事 請負契約 第{number}号",
        management_number=f"R8-土木-{number:05d}",
        counterparty_company=external.company,
        amount=12_345_000,
        uploads=[Upload(filename="契約書.pdf", data=pdf)],
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=external.company,
        name=external.name,
        email=external.email,
        access_code=external.code,
    )
    services.party_add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)
    services.contract_send(contract=contract, actor=personas.sender)
    return contract, external


def counterparty_session(external: Any) -> tuple[str, str]:
    """(signing link path, session cookie) of ``external`` once the access code is proven."""
    from django.test import Client

    from tests.flow import enter_code, last_link

    client = Client()
    link = last_link(external.email)
    answer = enter_code(client, link, external.code)
    if answer.status_code != 302:
        raise RuntimeError(f"access code refused ({answer.status_code})")
    return link, cookie_of(client)


def _fast_hashes() -> Any:
    """The access codes and passwords of the seeded organisation hashed with a fast hasher:
    PBKDF2 (about 1 s a code here) is not what the benches measure, and nothing the web
    server is timed on checks a code or a password (sessions are opened here)."""
    from django.test import override_settings

    return override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


def _seed_child_setup() -> None:
    import django

    django.setup()  # the installation's KEIYAKU_* environment is inherited


def _seed_range(sender_id: int, mayor_id: int, numbers: range) -> list[tuple[str, str]]:
    """In a seeding process: contracts ``numbers``; their (id, counterparty e-mail)."""
    from keiyaku.accounts.models import Staff
    from tests.pdfs import make_pdf

    personas = SimpleNamespace(
        sender=Staff.objects.get(pk=sender_id), mayor=Staff.objects.get(pk=mayor_id)
    )
    pdf = make_pdf(pages=2, text="令和8年度 道路補修工事 請負契約書")
    made = []
    with jobs_inline(), _ingest_once_per_file(), _fast_hashes():
        for number in numbers:
            contract, external = new_contract(personas, number, pdf=pdf)
            made.append((str(contract.pk), external.email))
    return made


def seed(*, contracts: int, sessions: int, processes: int = 3) -> Seeded:
    """An organisation with ``contracts`` sent contracts, made through the services by
    ``processes`` processes at once (jobs inline: e-mail is captured, nothing is queued), the
    sender's session and the first ``sessions`` counterparties' sessions."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from django.test import Client

    from tests.flow import External

    with _fast_hashes():
        personas = _Personas()
    processes = max(1, min(processes, contracts))
    ranges = [range(n, contracts, processes) for n in range(processes)]
    with ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_seed_child_setup,
    ) as pool:
        done = pool.map(
            _seed_range,
            [personas.sender.pk] * processes,
            [personas.mayor.pk] * processes,
            ranges,
        )
        made: dict[int, tuple[str, str]] = {}
        for numbers, results in zip(ranges, done, strict=True):
            made.update(zip(numbers, results, strict=True))
    ordered = [made[n] for n in range(contracts)]
    opened = []
    with _fast_hashes():
        for _id, email in ordered[:sessions]:
            opened.append(counterparty_session(External("", "", email, ACCESS_CODE)))
    staff = Client()
    staff.force_login(personas.sender)
    return Seeded(
        staff_cookie=cookie_of(staff),
        contracts=[contract_id for contract_id, _email in ordered],
        sessions=opened,
        personas=personas,
    )
