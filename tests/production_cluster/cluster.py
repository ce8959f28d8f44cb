"""A production-shaped keiyaku installation started from outside, for the scale-out and crash
tests (issue 11, acceptance 2 and 3).

::

    test process ── HTTP ──┬── web A: gunicorn (as `keiyaku serve` runs it), 2 workers ─┐
      (people)             └── web B: gunicorn, 2 workers ───────────────────────────────┤
                                                                                         ├─ PostgreSQL
                               consumer 1: `keiyaku run_huey` (2 threads, periodic) ─────┤  Redis
                               consumer 2: `keiyaku run_huey` (2 threads, periodic) ─────┘  S3 (versioned)
                                                                          │
                               SMTP relay (aiosmtpd, in the test process) ◄┘

Every process gets the same KEIYAKU_* settings and nothing else of the test run's
(`keiyaku.settings`, not the test settings, with only a fast password hasher swapped in:
tests/production_cluster/settings.py): the database URL of the test's own database on
the suite's PostgreSQL cluster, the Redis URL, the S3 bucket, the master and secret keys, the
signing authority's folder, the SMTP relay. Each process runs in a process group of its own,
so `kill()` is kill -9 of the whole process (gunicorn's master with its workers, a consumer
with the child processes its budgeted steps run in), and `start()` brings it back on the same
port with the same settings.
"""

from __future__ import annotations

import email
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from http.client import HTTPConnection
from pathlib import Path

from aiosmtpd.controller import Controller

from keiyaku.operations.server import WebOptions, web_command
from keiyaku.process_lifetime import PARENT_ENV
from tests.loopback_http import free_port

ROOT = Path(__file__).resolve().parents[2]
MAIL_FROM = "keiyaku <no-reply@keiyaku.city.example.jp>"


# --- the SMTP relay -------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message as the relay accepted it (after its 250 to DATA)."""

    message_id: str
    to: tuple[str, ...]
    subject: str
    body: str


class RecordingRelay:
    """An SMTP server's handler (aiosmtpd) that keeps every message it accepts, in order."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        received = Received(
            message_id=str(message["Message-ID"] or "").strip(),
            to=tuple(envelope.rcpt_tos),
            subject=str(message["Subject"] or ""),
            body=body,
        )
        with self._lock:
            self.received.append(received)
        return "250 Message accepted for delivery"

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def bodies_to(self, address: str) -> list[str]:
        return [m.body for m in self.messages() if address in m.to]

    def counts_by_message_id(self) -> Counter[str]:
        return Counter(m.message_id for m in self.messages())


@contextmanager
def smtp_relay() -> Iterator[tuple[RecordingRelay, int]]:
    """A real SMTP server on loopback; (its handler, its port)."""
    handler = RecordingRelay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


# --- processes ------------------------------------------------------------------------------


@dataclass
class Process:
    """One process of the installation: started, killed with SIGKILL, started again."""

    name: str
    command: list[str]
    environment: dict[str, str]
    log_path: Path
    port: int = 0
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {self.starts + 1} ---\n".encode())
            log.flush()
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                self.command,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # its own process group: kill() takes its children too
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """kill -9 of the process and everything it started: no clean-up of any kind."""
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # whatever it left behind
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def answers(self) -> bool:
        """For a web process: /healthz answers 200."""
        try:
            connection = HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                return connection.getresponse().status == 200
            finally:
                connection.close()
        except OSError:
            return False


@dataclass(frozen=True)
class Kill:
    at: float
    """Seconds since the cluster started."""
    process: str
    pid: int


@dataclass
class Cluster:
    """The running installation: its web and consumer processes, relay and settings."""

    webs: list[Process]
    consumers: list[Process]
    relay: RecordingRelay
    environment: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    kills: list[Kill] = field(default_factory=list)
    keep_logs: bool = False
    """Keep the processes' logs when the cluster stops (a failed test sets it)."""

    @property
    def processes(self) -> list[Process]:
        return [*self.webs, *self.consumers]

    @property
    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{web.port}" for web in self.webs]

    def wait_until_up(self, *, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        for web in self.webs:
            while not web.answers():
                if not web.running() or time.monotonic() > deadline:
                    raise AssertionError(f"{web.name} did not start:\n{web.log()[-4000:]}")
                time.sleep(0.2)
        for consumer in self.consumers:
            if not consumer.running():
                raise AssertionError(f"{consumer.name} ended:\n{consumer.log()[-4000:]}")

    def kill_and_restart(self, process: Process) -> Kill:
        """kill -9 `process`, log it, and start it again at once (as systemd would)."""
        kill = Kill(round(time.monotonic() - self.started, 1), process.name, process.pid)
        process.kill()
        self.kills.append(kill)
        process.start()
        return kill

    def kill_random(self, rng: random.Random) -> Kill:
        return self.kill_and_restart(rng.choice(self.processes))

    def logs(self) -> str:
        return "\n".join(f"===== {p.name}\n{p.log()[-3000:]}" for p in self.processes)

    def consumer_logs(self) -> list[str]:
        return [p.log() for p in self.consumers]


_EXECUTING = re.compile(r"Executing keiyaku\.contracts\.tasks\.apply_signature")


def signatures_per_consumer(cluster: Cluster) -> dict[str, int]:
    """How many signing jobs each consumer started (from Huey's "Executing" lines)."""
    return {p.name: len(_EXECUTING.findall(p.log())) for p in cluster.consumers}


def cluster_environment(
    *,
    data_dir: Path,
    database_url: str,
    redis_url: str,
    storage: dict[str, str],
    smtp_port: int,
    public_url: str,
    tsa_url: str,
    master_key: str,
    secret_key: str,
    pki_dir: Path,
    **extra: str,
) -> dict[str, str]:
    """The environment every process of the installation shares: KEIYAKU_* settings only (none
    of the test run's), read by keiyaku's own settings module (through
    tests/production_cluster/settings.py, which only swaps in a fast password hasher)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEIYAKU_")}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "tests.production_cluster.settings",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "KEIYAKU_DATA_DIR": str(data_dir),
        "KEIYAKU_DATABASE_URL": database_url,
        "KEIYAKU_REDIS_URL": redis_url,
        **storage,
        "KEIYAKU_MASTER_KEY": master_key,
        "KEIYAKU_SECRET_KEY": secret_key,
        "KEIYAKU_PKI_DIR": str(pki_dir),
        "KEIYAKU_TSA_URLS": tsa_url,
        "KEIYAKU_PUBLIC_URL": public_url,
        "KEIYAKU_SMTP_HOST": "127.0.0.1",
        "KEIYAKU_SMTP_PORT": str(smtp_port),
        "KEIYAKU_MAIL_FROM": MAIL_FROM,
        # Behind the load balancer every person has an address of their own (X-Forwarded-For).
        "KEIYAKU_TRUSTED_PROXIES": "127.0.0.1",
        "KEIYAKU_WEB_WORKERS": "2",
        "KEIYAKU_WEB_THREADS": "4",
        "KEIYAKU_QUEUE_WORKERS": "2",
        "KEIYAKU_LOG_LEVEL": "INFO",
        "KEIYAKU_LOG_FORMAT": "json",
        # Every process ends with the test's process, however it ends (as under `keiyaku serve`).
        PARENT_ENV: str(os.getpid()),
        **extra,
    }


@contextmanager
def running_cluster(
    *,
    database_url: str,
    redis_url: str,
    storage: dict[str, str],
    tsa_url: str,
    master_key: str,
    secret_key: str,
    pki_dir: Path,
    webs: int = 2,
    consumers: int = 2,
    **extra: str,
) -> Iterator[Cluster]:
    """Start the relay, `webs` gunicorn servers and `consumers` queue consumers on one set of
    settings; stop them all at the end. `extra` adds KEIYAKU_* settings."""
    folder = Path(tempfile.mkdtemp(prefix="keiyaku-cluster-"))
    keep = False
    ports = [free_port() for _ in range(webs)]
    with smtp_relay() as (relay, smtp_port):
        environment = cluster_environment(
            data_dir=folder / "data",
            database_url=database_url,
            redis_url=redis_url,
            storage=storage,
            smtp_port=smtp_port,
            public_url=f"http://127.0.0.1:{ports[0]}",
            tsa_url=tsa_url,
            master_key=master_key,
            secret_key=secret_key,
            pki_dir=pki_dir,
            **extra,
        )
        # What `keiyaku serve` does before it starts gunicorn: the hashed static files.
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "keiyaku.cli", "collectstatic", "--noinput", "-v0"],
            env=environment,
            check=True,
            cwd=ROOT,
            timeout=300,
        )
        web_processes = [
            Process(
                name=f"web-{'AB'[n]}",
                command=web_command(
                    WebOptions(addr=f"127.0.0.1:{port}", workers=2, threads=4, timeout=120)
                ),
                environment=environment,
                log_path=folder / f"web-{n}.log",
                port=port,
            )
            for n, port in enumerate(ports)
        ]
        consumer_processes = [
            Process(
                name=f"consumer-{n + 1}",
                command=[sys.executable, "-m", "keiyaku.cli", "run_huey"],
                environment=environment,
                log_path=folder / f"consumer-{n}.log",
            )
            for n in range(consumers)
        ]
        cluster = Cluster(
            webs=web_processes,
            consumers=consumer_processes,
            relay=relay,
            environment=environment,
        )
        try:
            for process in cluster.processes:
                process.start()
            cluster.wait_until_up()
            cluster.started = time.monotonic()
            sys.stderr.write(f"cluster logs in {folder} (kept if the test fails)\n")
            yield cluster
        except BaseException:
            keep = True  # a cluster that failed to start: its logs say why
            raise
        finally:
            keep = keep or cluster.keep_logs
            for process in cluster.processes:
                process.stop()
            if keep or os.environ.get("KEIYAKU_KEEP_CLUSTER_LOGS"):
                sys.stderr.write(f"cluster logs kept in {folder}\n")
            else:
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
