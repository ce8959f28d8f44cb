"""Queue consumers in processes of their own (`keiyaku run_huey`), as production runs them.

For tests of the queue across processes: each consumer is a real `python -m keiyaku.cli run_huey`
on the shared test database (a file, or the test PostgreSQL) and, with `redis_url`, on a real
Redis (tests/servers/redis.py). `queue_on_redis` points this test process's Huey at the same
Redis, so that what a test does through the services or Django's test client is queued there.
The test needs `pytest.mark.django_db(transaction=True)`: consumers only see committed rows.

    with queue_on_redis(redis_url), consumers(2, redis_url=redis_url) as (first, second):
        agree(...)                      # the signing job goes to Redis; a consumer runs it
        first.kill()                    # SIGKILL, as a crash
        first.log()                     # what it logged (Huey's "Executing …" lines and ours)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tests.process_environment import on_test_database

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Consumer:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up, the job in hand is lost (a crash, the OOM killer)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def consumer_environment(*, redis_url: str = "", **environment: str) -> dict[str, str]:
    """The environment of a consumer (or web) process on this test's database and TSA."""
    defaults = {
        "KEIYAKU_TASKS_IMMEDIATE": "0",
        "KEIYAKU_REDIS_URL": redis_url,
        "KEIYAKU_TSA_URLS": ",".join(settings.KEIYAKU_TSA_URLS),
        "KEIYAKU_LOG_LEVEL": "INFO",
    }
    return on_test_database(**{**defaults, **environment})


def start_consumer(
    *, redis_url: str = "", workers: int = 2, periodic: bool = False, **environment: str
) -> Consumer:
    """One `keiyaku run_huey` process with `workers` threads; its log goes to a file."""
    handle, name = tempfile.mkstemp(prefix="keiyaku-consumer-", suffix=".log")
    command = [sys.executable, "-m", "keiyaku.cli", "run_huey", "--workers", str(workers)]
    if not periodic:
        command.append("--no-periodic")
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command
            command,
            env=consumer_environment(redis_url=redis_url, **environment),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Consumer(process=process, log_path=Path(name))


@contextmanager
def consumers(
    count: int, *, redis_url: str = "", workers: int = 2, periodic: bool = False, **environment: str
) -> Iterator[list[Consumer]]:
    """`count` consumers, stopped (and their logs removed) at the end."""
    started: list[Consumer] = []
    try:
        for _ in range(count):
            started.append(
                start_consumer(
                    redis_url=redis_url, workers=workers, periodic=periodic, **environment
                )
            )
        yield started
    finally:
        for consumer in started:
            consumer.stop()
            consumer.log_path.unlink(missing_ok=True)


@contextmanager
def queue_on_redis(redis_url: str) -> Iterator[None]:
    """This process's Huey queues on `redis_url` (instead of running jobs inline)."""
    from huey.contrib.djhuey import HUEY
    from huey.storage import RedisStorage

    was_immediate, was_storage = HUEY.immediate, HUEY.storage
    with ExitStack() as stack:
        HUEY.immediate = False
        HUEY.storage = RedisStorage(name=HUEY.name, url=redis_url)
        stack.callback(setattr, HUEY, "storage", was_storage)
        stack.callback(setattr, HUEY, "immediate", was_immediate)
        yield


def wait_for(predicate: Callable[[], bool], *, seconds: float, every: float = 0.3) -> bool:
    """True as soon as `predicate()` is; False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())
