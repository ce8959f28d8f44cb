"""`keiyaku serve`: gunicorn and a Huey worker, supervised by one process.

::

    keiyaku serve ─┬─ gunicorn master ─── N web workers (gthread, T threads each)
                   └─ Huey consumer (restarted when it dies)

serve holds the data folder's lock (keiyaku.process_lifetime) and passes it to the worker.
Both children follow serve: when it is killed hard the kernel stops them
(``PR_SET_PDEATHSIG``), and gunicorn's web workers stop when their master does. A worker that
dies is started again after a pause that doubles while it keeps dying young (1 s … 30 s). The
web server ending on its own (its port taken, say) ends serve, with an error, for the service
manager to restart. SIGTERM, SIGINT or SIGHUP stop both children, then serve.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from keiyaku.process_lifetime import PARENT_ENV

log = logging.getLogger(__name__)

RESTART_PAUSE_FIRST = 1.0
RESTART_PAUSE_MAX = 30.0
# A worker that ran this long before dying was not crash-looping: the pause starts again.
HEALTHY_SECONDS = 60.0
STOP_SECONDS = 30.0


@dataclass(frozen=True)
class WebOptions:
    addr: str
    """host:port to listen on."""
    workers: int
    threads: int
    timeout: int
    """Seconds a request may take before gunicorn replaces its worker."""


def web_command(options: WebOptions) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "keiyaku.wsgi:application",
        "--config",
        "python:keiyaku.operations.gunicorn_config",
        "--bind",
        options.addr,
        "--workers",
        str(options.workers),
        "--threads",
        str(options.threads),
        "--timeout",
        str(options.timeout),
    ]


def worker_command() -> list[str]:
    return [sys.executable, "-m", "keiyaku.cli", "run_huey"]


class Supervisor:
    """Runs the web server and the worker until told to stop; see the module docstring."""

    def __init__(self, options: WebOptions, *, lock_fd: int, out: TextIO) -> None:
        self.options = options
        self.lock_fd = lock_fd
        self.out = out
        self.stopping = False
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_started = 0.0
        self.pause = RESTART_PAUSE_FIRST / 2  # the first young death waits FIRST

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        # The children inherit the lock (pass_fds) and follow this process (PARENT_ENV); both
        # are started from this (main) thread, which lives as long as serve.
        return subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            command,
            env={**os.environ, PARENT_ENV: str(os.getpid())},
            pass_fds=(self.lock_fd,),
        )

    def _start_worker(self) -> None:
        self.worker = self._spawn(worker_command())
        self.worker_started = time.monotonic()

    def _ask_to_stop(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        """Serve until a signal or the web server's end; the exit status for serve."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._ask_to_stop)
        self.web = self._spawn(web_command(self.options))
        self._start_worker()
        assert self.worker is not None
        self.out.write(
            f"keiyaku: http://{self.options.addr}/  (web pid {self.web.pid}, "
            f"worker pid {self.worker.pid}, {self.options.workers} web workers)\n"
        )
        self.out.flush()
        status = 0
        restart_at: float | None = None
        try:
            while not self.stopping:
                time.sleep(0.2)
                if self.web.poll() is not None:
                    log.error("the web server ended (status %s): stopping", self.web.returncode)
                    status = 1
                    break
                if restart_at is None and self.worker.poll() is not None:
                    lived = time.monotonic() - self.worker_started
                    self.pause = (
                        RESTART_PAUSE_FIRST
                        if lived >= HEALTHY_SECONDS
                        else min(self.pause * 2, RESTART_PAUSE_MAX)
                    )
                    log.warning(
                        "worker pid %s ended (status %s) after %.0f s: starting another in %.0f s",
                        self.worker.pid,
                        self.worker.returncode,
                        lived,
                        self.pause,
                    )
                    restart_at = time.monotonic() + self.pause
                if restart_at is not None and time.monotonic() >= restart_at:
                    restart_at = None
                    self._start_worker()
                    self.out.write(f"keiyaku: worker restarted (worker pid {self.worker.pid})\n")
                    self.out.flush()
        finally:
            self.stop()
        return status

    def stop(self) -> None:
        """SIGTERM to both children, SIGKILL to whichever is still there after STOP_SECONDS."""
        children = [p for p in (self.web, self.worker) if p is not None and p.poll() is None]
        for child in children:
            child.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %s did not stop on SIGTERM: killing it", child.pid)
                child.kill()
                child.wait()
