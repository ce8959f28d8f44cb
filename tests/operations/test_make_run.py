"""`make run`'s start-up command on a fresh data folder (issue 14, acceptance 5): the terminal
shows the demo logins and the root certificate to trust in Acrobat, once each, and no warning
or repeated line (the setuptools licence warning, Huey's lines twice, pikepdf's banner)."""

from __future__ import annotations

import importlib
import re
import select
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from http.client import HTTPConnection
from pathlib import Path

import pytest

from keiyaku.accounts.demo import DEMO_STAFF
from keiyaku.operations import gunicorn_config
from keiyaku.web.management.commands.run import log_level
from tests.web.test_serve import ROOT, environment, free_port


def test_quiet_unless_verbose_and_an_explicit_level_wins(monkeypatch):
    assert log_level(verbose=False, environ={}) == "WARNING"
    assert log_level(verbose=True, environ={}) == "INFO"
    assert log_level(verbose=False, environ={"KEIYAKU_LOG_LEVEL": "DEBUG"}) == "DEBUG"
    # The web server's own lines follow it (gunicorn's master reads the environment only).
    monkeypatch.setenv("KEIYAKU_LOG_LEVEL", "WARNING")
    config = importlib.reload(gunicorn_config)
    assert config.logconfig_dict["loggers"]["gunicorn.error"]["level"] == "WARNING"
    assert config.logconfig_dict["root"]["level"] == "WARNING"
    monkeypatch.delenv("KEIYAKU_LOG_LEVEL")
    assert importlib.reload(gunicorn_config).logconfig_dict["root"]["level"] == "INFO"


def start_up_command(addr: str) -> list[str]:
    """The command `make run` ends with (after the virtualenv and install steps), as make
    prints it, run with this interpreter instead of .venv's."""
    printed = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", "-n", "run", f"ADDR={addr}", "VERBOSE="]  # noqa: S607
        + [f"KEIYAKU={sys.executable} -m keiyaku.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return shlex.split(printed.strip().splitlines()[-1])


def worker_ran_a_job(data_dir: Path) -> bool:
    """The worker claimed a periodic run (it does in its first second): it has started."""
    try:
        with sqlite3.connect(data_dir / "keiyaku.sqlite3", timeout=1) as db:
            return bool(
                db.execute(
                    "select count(*) from jobs_lease where key like 'periodic:%'"
                ).fetchone()[0]
            )
    except sqlite3.OperationalError:
        return False


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.slow(seconds=20)  # ~20 s of CPU: migrate, demo, PKI, three processes
def test_make_run_prints_the_logins_and_the_root_once_and_no_warning(tmp_path):
    port = free_port()
    command = start_up_command(f"127.0.0.1:{port}")
    assert command[-3:] == ["run", "--addr", f"127.0.0.1:{port}"]
    process = subprocess.Popen(  # noqa: S603
        command,
        env={**environment(tmp_path), "KEIYAKU_WEB_WORKERS": "1"},  # one boot is enough
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the terminal shows both
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while not any(line.startswith("keiyaku: http://") for line in lines):
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            if select.select([process.stdout], [], [], 1)[0]:
                lines.append(process.stdout.readline())
        # Up: the web server answers, and the worker has run its first periodic job.
        while not worker_ran_a_job(tmp_path):
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.2)
        found = re.search(
            r"https?://127\.0\.0\.1:\d+(/trust/roots/[0-9a-f]{64}\.pem)", "".join(lines)
        )
        assert found, "".join(lines)
        status, pem = get(port, found.group(1))
        assert status == 200 and pem.startswith(b"-----BEGIN CERTIFICATE-----")
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl+C
        rest, _ = process.communicate(timeout=60)
    lines += rest.splitlines(keepends=True)
    output = "".join(lines)
    assert process.returncode == 0, output

    assert not [line for line in lines if re.search(r"warn", line, re.I)], output
    repeated = [line for line, n in Counter(lines).items() if n > 1 and line.strip()]
    assert not repeated, output
    # Quiet: what a newcomer needs and nothing else (no log line: --verbose shows those).
    expected = (
        r"デモ市: staff logins \(password: keiyaku-demo\)",
        r"  demo-\S+ +.+  \[.+\]",
        r"Signed PDFs verify in Acrobat once it trusts keiyaku's root certificate .*docs/trust\.md.*",
        r"  http://127\.0\.0\.1:\d+/trust/roots/[0-9a-f]{64}\.pem",
        r"  SHA-256 [0-9A-F:]{95}",
        r"keiyaku: http://127\.0\.0\.1:\d+/ .*",
    )
    unexpected = [
        line
        for line in output.splitlines()
        if line.strip() and not any(re.fullmatch(shape, line) for shape in expected)
    ]
    assert not unexpected, output
    assert output.count("staff logins (password: keiyaku-demo)") == 1, output
    for username, *_ in DEMO_STAFF:
        assert len(re.findall(rf"^\s+{username}\s", output, re.M)) == 1, output
    assert output.count("/trust/roots/") == 1, output
    assert output.count(f"http://127.0.0.1:{port}/trust/roots/") == 1, output
