"""A private PostgreSQL cluster for tests: initdb into a temporary folder, served on a Unix
socket in that folder only (no TCP port), stopped and removed at the end.

Used three ways:

- `running_postgres()`: a context manager for a test or fixture that needs a server of its own
  (backups, scale-out): `with running_postgres() as server: server.create_database("x")`.
- `python -m tests.servers.postgres -- COMMAND …`: runs COMMAND with `KEIYAKU_DATABASE_URL` and
  `KEIYAKU_TEST_DATABASE=postgres` pointing at a fresh cluster, then stops it (`make test`).
- `KEIYAKU_TEST_DATABASE=postgres pytest …` without a URL: tests/settings.py starts one for the
  run (`server_for_test_run`), so a single test file runs on PostgreSQL with one command.

Debian's `postgresql` package provides the server (`make system-deps` installs it; when it is
missing and we are root, `ensure_installed` installs it). initdb refuses to run as root, so as
root the cluster runs as the unprivileged `postgres` system user (created by the Debian
package; `nobody` otherwise) through `setpriv`; the client side keeps running as root and
reaches the socket through the folder, which root may always enter.

The cluster trades durability for speed (fsync, synchronous_commit and full_page_writes off):
a crash loses the test data, which is thrown away anyway. Row locks, isolation and constraints
are those of any PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

# The superuser initdb creates; trust authentication on the private socket only.
SUPERUSER = "keiyaku"
# The socket's name is .s.PGSQL.<port>; no TCP port is opened (listen_addresses = '').
PORT = 5432

_SETTINGS = {
    "listen_addresses": "''",
    "port": str(PORT),
    # Test data is thrown away: nothing needs to survive a crash.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    # Two test workers, their web and worker processes, and race tests with many threads.
    "max_connections": "300",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


class PostgresUnavailable(RuntimeError):
    """Debian's PostgreSQL server programs are missing and could not be installed."""


def server_bin_dir() -> Path | None:
    """The folder with initdb and pg_ctl: Debian's newest /usr/lib/postgresql/<major>/bin, or
    the folder of `pg_ctl` on the PATH; None when neither exists."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).resolve().parent if on_path else None


def ensure_installed() -> Path:
    """The server programs' folder, installing Debian's `postgresql` first when missing (as
    root, or through a password-less sudo). Raises PostgresUnavailable when it cannot."""
    found = server_bin_dir()
    if found:
        return found
    prefix: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and not shutil.which("sudo"):
        raise PostgresUnavailable("PostgreSQL is not installed: run `make system-deps`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            [*prefix, "apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env
        )
    except (OSError, subprocess.CalledProcessError) as error:
        raise PostgresUnavailable(
            f"PostgreSQL is not installed and could not be installed ({error}): "
            "run `make system-deps`"
        ) from error
    found = server_bin_dir()
    if not found:
        raise PostgresUnavailable("the postgresql package installed no server programs")
    return found


def _server_account() -> pwd.struct_passwd | None:
    """Whom the server runs as: None for ourselves; as root, an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root with neither a postgres nor a nobody user")


@dataclass(frozen=True)
class PostgresServer:
    """A running private cluster.

    folder: the temporary folder holding the data directory, the log and the socket.
    bin_dir: the server programs' folder (initdb, pg_ctl, pg_dump, psql of the same major).
    """

    folder: Path
    bin_dir: Path

    @property
    def socket_dir(self) -> Path:
        return self.folder

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "keiyaku") -> str:
        """A KEIYAKU_DATABASE_URL for `database` on this cluster: the socket folder, quoted, as
        the host (libpq takes a host starting with / for a socket folder)."""
        return f"postgres://{SUPERUSER}@{quote(str(self.socket_dir), safe='')}/{database}"

    def connection_kwargs(self, database: str = "postgres") -> dict[str, str | int]:
        """psycopg.connect() keyword arguments for `database`."""
        return {"host": str(self.socket_dir), "port": PORT, "user": SUPERUSER, "dbname": database}

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE DATABASE must be)."""
        import psycopg

        with psycopg.connect(**self.connection_kwargs(database), autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        """Create an empty database; its URL."""
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def client_env(self) -> dict[str, str]:
        """libpq variables for psql, pg_dump and pg_restore run against this cluster."""
        return {"PGHOST": str(self.socket_dir), "PGPORT": str(PORT), "PGUSER": SUPERUSER}


def _as_server_user(command: Sequence[str], account: pwd.struct_passwd | None) -> list[str]:
    if account is None:
        return list(command)
    return [
        "setpriv",
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--init-groups",
        *command,
    ]


def start(folder: Path | None = None, settings: dict[str, str] | None = None) -> PostgresServer:
    """initdb a new cluster in a fresh temporary folder and start it; the caller calls stop().

    ``folder``: a folder of its own to keep the cluster in instead (a short path: the socket
    lives there), e.g. for a benchmark's data seeded once (bench/search.py --keep); a cluster
    already there is started again as it was. ``settings``: server settings for this start
    beside the tests' own (e.g. a production server's memory for a benchmark).
    """
    bin_dir = ensure_installed()
    account = _server_account()
    temporary = folder is None
    if folder is None:
        # A Unix socket path has at most 107 bytes: keep the folder short (under /tmp as root,
        # whose own TMPDIR the server user may not be able to enter).
        base = "/tmp" if account is not None else None  # noqa: S108 - a private mkdtemp folder
        folder = Path(tempfile.mkdtemp(prefix="keiyaku-pg-", dir=base))
        if len(str(folder)) > 80:
            shutil.rmtree(folder)
            folder = Path(tempfile.mkdtemp(prefix="keiyaku-pg-", dir="/tmp"))  # noqa: S108
    else:
        folder.mkdir(parents=True, exist_ok=True)
    if account is not None:
        os.chown(folder, account.pw_uid, account.pw_gid)
    server = PostgresServer(folder=folder, bin_dir=bin_dir)
    kept = (server.data_dir / "PG_VERSION").exists()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    env.pop("PGDATA", None)
    try:
        if not kept:
            _initdb(server, account, env)
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "--pgdata",
                    str(server.data_dir),
                    "--log",
                    str(server.log_file),
                    "--wait",
                    "--timeout",
                    "60",
                    *(
                        ("-o", " ".join(f"-c {key}={value}" for key, value in settings.items()))
                        if settings
                        else ()
                    ),
                    "start",
                ],
                account,
            ),
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=folder,
        )
    except subprocess.CalledProcessError as error:
        log = server.log_file.read_text() if server.log_file.exists() else ""
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
        raise PostgresUnavailable(
            f"the test PostgreSQL did not start: {error.stderr.decode(errors='replace')}{log}"
        ) from error
    if not kept:
        server.execute(f'CREATE DATABASE "{SUPERUSER}"')
    return server


def _initdb(server: PostgresServer, account: pwd.struct_passwd | None, env: dict[str, str]) -> None:
    """A new cluster in ``server.data_dir``, configured for tests (`_SETTINGS`)."""
    bin_dir, folder = server.bin_dir, server.folder
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(server.data_dir),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ],
            account,
        ),
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=folder,
    )
    settings = {**_SETTINGS, "unix_socket_directories": f"'{folder}'"}
    with open(server.data_dir / "postgresql.conf", "a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


def stop(server: PostgresServer, *, keep: bool = False) -> None:
    """Stop the cluster at once and remove its folder (its data is thrown away), or, with
    ``keep``, stop it cleanly and keep its folder for `start` to run again."""
    if (server.data_dir / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user(
                [
                    str(server.bin_dir / "pg_ctl"),
                    "--pgdata",
                    str(server.data_dir),
                    "--mode",
                    "fast" if keep else "immediate",
                    "--wait",
                    "stop",
                ],
                _server_account(),
            ),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=server.folder,
        )
    if not keep:
        shutil.rmtree(server.folder, ignore_errors=True)


@contextmanager
def running_postgres(
    folder: Path | None = None, settings: dict[str, str] | None = None
) -> Iterator[PostgresServer]:
    """A private cluster for the duration of the block; in ``folder``, kept afterwards, if
    one is given, and with ``settings`` (see `start`)."""
    server = start(folder, settings)
    try:
        yield server
    finally:
        stop(server, keep=folder is not None)


def server_for_test_run() -> str:
    """Start a cluster for this process's lifetime (stopped at exit); its KEIYAKU_DATABASE_URL.

    For `KEIYAKU_TEST_DATABASE=postgres pytest …` without a URL: tests/settings.py calls it and
    puts the URL in the environment, so pytest-xdist workers and the web and worker processes the
    tests start use the same cluster.
    """
    server = start()
    started_by = os.getpid()

    def _stop() -> None:
        if os.getpid() == started_by:  # not in a forked child
            stop(server)

    atexit.register(_stop)
    # A run stopped with SIGTERM (a CI time-out, `kill`) ends as after Ctrl-C, so the atexit
    # handlers run: pytest ends the session on KeyboardInterrupt (SystemExit inside a test would
    # only fail that test).
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    return server.url()


def main(argv: Sequence[str]) -> int:
    """`python -m tests.servers.postgres -- COMMAND …`: COMMAND's exit status."""
    args = list(argv)
    if args[:1] == ["--"]:
        args = args[1:]
    # `kill` (SIGTERM) stops the cluster as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with running_postgres() as server:
        if not args:
            sys.stdout.write(f"{server.url()}\n(stop with Ctrl-C)\n")
            sys.stdout.flush()
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
        env = {
            **os.environ,
            "KEIYAKU_DATABASE_URL": server.url(),
            "KEIYAKU_TEST_DATABASE": "postgres",
        }
        return subprocess.call(args, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
