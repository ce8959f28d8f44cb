"""The private PostgreSQL cluster the tests start (tests/servers/postgres.py): reachable on its
socket only, run by an unprivileged user, gone after it stops."""

from __future__ import annotations

import os
import subprocess

import psycopg

from tests.servers.postgres import running_postgres


def test_cluster_serves_its_socket_only_and_is_removed_after() -> None:
    with running_postgres() as server:
        url = server.create_database("scratch")
        assert url.endswith("/scratch")
        with psycopg.connect(**server.connection_kwargs("scratch")) as conn:  # type: ignore[arg-type]
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
        # initdb refuses root: as root the server runs as another user.
        status = (server.data_dir / "postmaster.pid").stat()
        if os.geteuid() == 0:
            assert status.st_uid != 0
        # The client programs of the same major work with client_env() (backups use pg_dump).
        dump = subprocess.run(
            [str(server.bin_dir / "pg_dump"), "--schema-only", "scratch"],
            env={**os.environ, **server.client_env()},
            capture_output=True,
            text=True,
            check=True,
        )
        assert "PostgreSQL database dump" in dump.stdout
        folder = server.folder
    assert not folder.exists()
