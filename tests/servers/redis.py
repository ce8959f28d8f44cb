"""A private Redis for the tests: Debian's `redis-server` on a Unix socket in a temporary folder.

No TCP (`port 0`), no persistence (no RDB snapshots, no append-only file), stopped when the
context ends. Install it with `make system-deps` (SYSTEM_PACKAGES); Valkey's `valkey-server`
is used when Redis is missing, as operators may run it as a drop-in.

    with running_redis() as server:
        server.url          # "unix:///tmp/keiyaku-redis-…/redis.sock?db=0"
        server.client()     # a redis.Redis on that socket

The pytest fixtures `redis_server` (one server per test session and xdist worker) and
`redis_url` (that server, emptied before and after the test) are registered in tests/conftest.py.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import redis as redis_py


def _server_binary() -> str:
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    pytest.fail("redis-server is needed for the queue tests: run `make system-deps`")


@dataclass(frozen=True)
class RedisServer:
    socket: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The KEIYAKU_REDIS_URL of this server (database 0)."""
        return f"unix://{self.socket}?db=0"

    def client(self) -> redis_py.Redis:
        import redis as redis_py

        return redis_py.Redis(unix_socket_path=str(self.socket))

    def flush(self) -> None:
        """Forget every key (between tests that share the server)."""
        self.client().flushall()


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """Start a private redis-server and stop it (and remove its folder) at the end."""
    binary = _server_binary()
    folder = Path(tempfile.mkdtemp(prefix="keiyaku-redis-"))
    sock = folder / "redis.sock"
    config = folder / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "port 0",
                f"unixsocket {sock}",
                "unixsocketperm 700",
                f"dir {folder}",
                'save ""',
                "appendonly no",
                "daemonize no",
                "loglevel warning",
                f"logfile {folder / 'redis.log'}",
                "databases 16",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        server = RedisServer(socket=sock, process=process)
        while True:
            if process.poll() is not None:
                log = folder / "redis.log"
                pytest.fail(
                    f"redis-server exited ({process.returncode}): "
                    f"{log.read_text() if log.exists() else ''}"
                )
            if sock.exists():
                try:
                    if server.client().ping():
                        break
                except OSError:
                    pass
                except Exception as error:  # redis.ConnectionError while it loads
                    if time.monotonic() > deadline:
                        raise AssertionError(f"redis-server did not answer: {error}") from error
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not start within 30 s")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the test session (each xdist worker has its own)."""
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The server's URL, emptied before and after the test."""
    redis_server.flush()
    yield redis_server.url
    redis_server.flush()
