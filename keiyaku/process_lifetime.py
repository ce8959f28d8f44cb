"""How long `keiyaku serve` and its worker live: one serve per data folder, no orphan worker.

`keiyaku serve` starts a Huey worker as a child process. Killed hard (SIGKILL, an OOM kill, a
crashed terminal), it cannot stop the worker itself; a restart then added a second worker on
the same queue. So:

- serve holds an exclusive `flock` on ``DATA_DIR/serve.lock`` for its whole life, and the worker
  inherits it: while either runs, a second serve on that folder refuses to start. The kernel
  drops the lock when the last holder dies, so a stale file never blocks a start.
- the worker follows its parent: on Linux the kernel sends it SIGTERM when serve dies
  (``prctl(PR_SET_PDEATHSIG)``; it fires when the *thread* that started the child ends, so serve
  starts it from its main thread, which lives as long as serve); everywhere a thread also notices that the parent pid changed
  and sends the same signal. SIGTERM stops Huey's consumer at once; a job cut short is finished
  by the sweeper of the next worker, as after any crash.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

# The environment variable through which serve tells its worker whom to follow (keiyaku.cli).
PARENT_ENV = "KEIYAKU_SERVE_PARENT_PID"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class AlreadyRunning(Exception):
    """Another process holds the lock; `holder` is the pid it wrote, if any."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by pid {holder or '?'}")
        self.path = path
        self.holder = holder


def lock_hold(path: Path) -> int:
    """Take the exclusive lock on `path` without waiting, write our pid in it, and return the
    open file descriptor: the lock lasts as long as that descriptor is open here or in a child
    that inherited it.

    Raises:
        AlreadyRunning: another process holds it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise AlreadyRunning(path, holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def exit_with_parent(
    parent_pid: int, *, kernel_signal: bool = True, poll_seconds: float = 1.0
) -> None:
    """Stop this process (SIGTERM to itself) when `parent_pid` dies.

    Args:
        kernel_signal: also ask Linux to send the signal (``PR_SET_PDEATHSIG``); the poll
            below is the fallback elsewhere, and is tested alone with this off.
        poll_seconds: how often the thread compares the parent pid.
    """
    if kernel_signal and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            log.warning("prctl(PR_SET_PDEATHSIG) is unavailable; polling the parent pid only")
    if os.getppid() != parent_pid:
        # The parent died before the request above took effect: nobody will signal us.
        log.warning("parent %s is gone before the worker started: exiting", parent_pid)
        raise SystemExit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        log.warning("parent %s is gone: stopping", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        os._exit(1)  # the consumer did not stop on SIGTERM

    threading.Thread(target=watch, name="keiyaku-parent-watch", daemon=True).start()
