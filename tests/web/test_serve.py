"""`keiyaku serve` as real processes: its worker ends with it; one serve per data folder."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keiyaku.process_lifetime import AlreadyRunning, lock_hold
from tests.loopback_http import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEIYAKU_")}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
        "KEIYAKU_DATA_DIR": str(data_dir),
        "KEIYAKU_TASKS_IMMEDIATE": "0",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return not re.search(r"^State:\s+Z", status, re.M)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ValueError):
            pass
    return found


def wait_until(predicate: Callable[[], bool], *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class Serve:
    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "keiyaku.cli", "serve", "--addr", f"127.0.0.1:{free_port()}"],
            env=environment(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.worker_pid: int | None = None

    def wait_for_worker(self) -> int:
        """The worker's pid, from serve's first line (printed once the lock is held)."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 120)
        line = self.process.stdout.readline() if ready else ""
        found = re.search(r"worker pid (\d+)", line)
        assert found, f"serve printed {line!r}; stderr: {self.stop()}"
        self.worker_pid = int(found.group(1))
        return self.worker_pid

    def stop(self) -> str:
        """Kill serve and whatever worker it started (even one that would outlive it);
        return serve's stderr."""
        workers = set(children(self.process.pid))
        if self.worker_pid is not None:
            workers.add(self.worker_pid)
        if self.process.poll() is None:
            self.process.kill()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        _out, err = self.process.communicate(timeout=60)
        return err


@pytest.fixture
def serves(tmp_path) -> Iterator[Callable[[], Serve]]:
    started: list[Serve] = []

    def start() -> Serve:
        started.append(Serve(tmp_path))
        return started[-1]

    yield start
    for serve in started:
        serve.stop()


def test_the_worker_exits_when_serve_is_killed(serves):
    serve = serves()
    worker = serve.wait_for_worker()
    assert alive(worker)
    serve.process.send_signal(signal.SIGKILL)  # no chance to stop the worker itself
    serve.process.wait(timeout=30)
    assert wait_until(lambda: not alive(worker), seconds=30), "the worker outlived serve"


def test_a_second_serve_on_the_same_data_folder_refuses_to_start(serves, tmp_path):
    first = serves()
    first.wait_for_worker()
    second = serves()
    assert second.process.wait(timeout=120) != 0
    message = second.stop()
    assert "another keiyaku serve" in message and str(tmp_path) in message
    assert first.process.poll() is None  # the first one runs on
    # Once the first and its worker are gone, the folder is free again.
    first.stop()
    assert wait_until(lambda: not alive(first.worker_pid or 0), seconds=30)
    third = serves()
    assert third.wait_for_worker()


def test_the_lock_is_shared_with_a_child_and_freed_with_the_last_holder(tmp_path):
    path = tmp_path / "serve.lock"
    fd = lock_hold(path)
    child = subprocess.Popen(["sleep", "60"], pass_fds=(fd,))
    try:
        os.close(fd)  # the parent lets go; the child still holds the lock
        with pytest.raises(AlreadyRunning) as held:
            lock_hold(path)
        assert held.value.holder == str(os.getpid())
    finally:
        child.kill()
        child.wait()
    os.close(lock_hold(path))


def test_without_the_kernel_signal_the_poll_notices_the_parent_is_gone(tmp_path):
    """The fallback where PR_SET_PDEATHSIG does not exist: a thread polls the parent pid."""
    grandchild = (
        "import os, time\n"
        "from keiyaku.process_lifetime import exit_with_parent\n"
        "exit_with_parent(os.getppid(), kernel_signal=False, poll_seconds=0.1)\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', {grandchild!r}])\n"
            "time.sleep(60)\n",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        ready, _, _ = select.select([parent.stdout], [], [], 60)
        pid = int(parent.stdout.readline()) if ready else 0
        assert pid and alive(pid)
    finally:
        parent.kill()
        parent.wait()
    assert wait_until(lambda: not alive(pid), seconds=30)
