"""`keiyaku serve` runs the production server: gunicorn with several workers, WhiteNoise, a
supervised worker, and nothing left behind when it stops."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPResponse
from pathlib import Path

import pytest

from tests.web.test_serve import alive, children, environment, free_port, wait_until
from tests.web_process import Browser, post_all_at_once

pytestmark = pytest.mark.slow


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for child in children(pid):
        found |= {child} | descendants(child)
    return found


@dataclass
class Running:
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    def read_until(self, pattern: str, *, seconds: float = 120) -> re.Match[str]:
        """The first line of serve's standard output that matches, waiting for it."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in self.lines:
                found = re.search(pattern, line)
                if found:
                    self.lines.remove(line)
                    return found
            ready, _, _ = select.select([self.process.stdout], [], [], 1)
            if ready:
                line = self.process.stdout.readline()
                if not line:
                    break
                self.lines.append(line)
        raise AssertionError(f"serve never printed {pattern!r}; it printed {self.lines}")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[HTTPResponse, bytes]:
        connection = HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response, response.read()
        finally:
            connection.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Running]:
    env = {**environment(tmp_path), "KEIYAKU_LOG_FORMAT": "json", "KEIYAKU_WEB_WORKERS": "3"}
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "keiyaku.cli", "migrate", "--noinput", "-v0"],
        env=env,
        check=True,
        timeout=300,
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "keiyaku.cli", "serve", "--addr", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    running = Running(process, port)
    try:
        yield running
    finally:
        tree = descendants(process.pid)
        if process.poll() is None:
            process.kill()
        for pid in tree:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=60)
        log.close()


def wait_for_http(running: Running) -> None:
    def answers() -> bool:
        try:
            return running.get("/healthz")[0].status == 200
        except OSError:
            return False

    assert wait_until(answers, seconds=120), "serve never answered /healthz"


def test_serve_runs_gunicorn_workers_serves_static_files_and_supervises_its_worker(
    served: Running, tmp_path: Path
):
    worker = int(served.read_until(r"worker pid (\d+)").group(1))
    wait_for_http(served)

    # A page, through gunicorn, with the request id it was logged under.
    page, body = served.get("/login/", {"X-Request-ID": "probe-123"})
    assert page.status == 200 and page.getheader("Server", "").startswith("gunicorn")
    assert page.getheader("X-Request-ID") == "probe-123"

    # Its stylesheet: the hashed name collectstatic wrote, from WhiteNoise, compressed on request.
    css = re.search(rb'href="(/static/keiyaku/keiyaku\.[0-9a-f]{12}\.css)"', body)
    assert css, "the page does not link the hashed stylesheet"
    static, content = served.get(css.group(1).decode(), {"Accept-Encoding": "gzip"})
    assert static.status == 200
    assert "immutable" in static.getheader("Cache-Control", "")
    assert static.getheader("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in static.getheader("Vary", "")
    assert content[:2] == b"\x1f\x8b"  # a gzip stream

    # Several web worker processes under gunicorn's master, beside the Huey worker.
    web = [pid for pid in children(served.process.pid) if pid != worker]
    assert len(web) == 1 and len(children(web[0])) == 3

    # SQLite shared by those processes in WAL mode (readers never wait for the writer).
    with sqlite3.connect(tmp_path / "keiyaku.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # Writes from every web process at once (failed logins: rate counters, audit chain,
    # sessions) wait their turn on SQLite's lock; none fails with "database is locked".
    browsers = [Browser(f"http://127.0.0.1:{served.port}") for _ in range(12)]
    for browser in browsers:
        assert browser.get("/login/").status == 200
    answers = post_all_at_once(
        [
            (browser, "/login/", {"username": f"nobody-{n}", "password": "wrong password"})
            for n, browser in enumerate(browsers)
        ]
    )
    assert [a.status for a in answers] == [200] * 12, [a.body[:300] for a in answers]

    # The worker killed hard is started again.
    os.kill(worker, signal.SIGKILL)
    restarted = int(served.read_until(r"worker restarted \(worker pid (\d+)\)").group(1))
    assert restarted != worker and alive(restarted)
    assert restarted in children(served.process.pid)

    # Stopping serve stops everything it started, grandchildren included.
    tree = descendants(served.process.pid)
    assert len(tree) >= 5  # gunicorn master, 3 web workers, the worker
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert wait_until(lambda: not any(alive(pid) for pid in tree), seconds=30), [
        pid for pid in tree if alive(pid)
    ]

    log = (tmp_path / "serve.log").read_text()
    assert "development server" not in log.lower()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [e for e in lines if e["logger"] == "keiyaku.request" and e.get("route") == "/login/"]
    assert access and access[0]["request_id"] == "probe-123" and access[0]["status"] == 200
    assert any(e["logger"] == "gunicorn.error" for e in lines)  # gunicorn's lines are JSON too
