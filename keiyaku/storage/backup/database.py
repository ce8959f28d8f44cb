"""A consistent snapshot of the database and its way back, per engine (R42).

`snapshot` writes the database to a file and returns the stored objects *that snapshot* names
(Blob rows and audit archives), read in the same consistent view: an object written after the
snapshot is not listed, and every object listed existed before its row was committed
(`blob_put` and `audit_archive` store the object first), so a backup copies exactly what its
database needs.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step
  under a read transaction, so writers in other processes never see a lock held for long and
  the copy is one moment of the database; the objects are then read from the copy.
- PostgreSQL: a REPEATABLE READ transaction exports its snapshot; ``pg_dump --snapshot`` dumps
  exactly that view (custom format) while the same transaction lists the objects.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.apps import apps
from django.db import connection, transaction

from keiyaku.audit.models import Archive, ChainHead
from keiyaku.storage.backup.layout import BackupRefused
from keiyaku.storage.models import Blob


@dataclass(frozen=True)
class BlobRow:
    id: uuid.UUID
    sha256: str
    size: int


@dataclass(frozen=True)
class ArchiveRow:
    """An audit archive row (`keiyaku.audit.models.Archive`) of the snapshot."""

    id: int
    path: str
    """Its storage name (``audit-archive/…``), or the absolute path of a file in the data
    folder for an archive written before issue 11."""
    sha256: str


@dataclass(frozen=True)
class Snapshot:
    """What a database snapshot names in the object storage."""

    blobs: list[BlobRow]
    archives: list[ArchiveRow]


class Engine(Protocol):
    name: str
    """"sqlite" or "postgresql" (written in the manifest)."""
    file_name: str

    def snapshot(self, target: Path) -> Snapshot: ...

    def restore(self, source: Path) -> None: ...


def _blob_rows(rows: Iterable[tuple[Any, Any, Any]]) -> list[BlobRow]:
    return [
        BlobRow(
            id=value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)), sha256=h, size=s
        )
        for value, h, s in rows
    ]


def _blob_query() -> str:
    table = connection.ops.quote_name(Blob._meta.db_table)
    return f"SELECT id, sha256, size FROM {table} ORDER BY created_at, id"  # noqa: S608 - a model's own table


def _archive_query() -> str:
    table = connection.ops.quote_name(Archive._meta.db_table)
    return f"SELECT id, path, sha256 FROM {table} ORDER BY id"  # noqa: S608 - a model's own table


def _archive_rows(rows: Iterable[tuple[Any, Any, Any]]) -> list[ArchiveRow]:
    return [ArchiveRow(id=int(i), path=str(p), sha256=str(h)) for i, p, h in rows]


class SqliteEngine:
    name = "sqlite"
    file_name = "database.sqlite3"

    def __init__(self, settings_dict: dict[str, Any]) -> None:
        self.path = str(settings_dict["NAME"])

    def snapshot(self, target: Path) -> Snapshot:
        if not Path(self.path).is_file():  # connecting would create an empty database
            raise BackupRefused(f"the database {self.path} does not exist")
        source = sqlite3.connect(self.path, timeout=60)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # pages=-1: every page in one step, one consistent moment
            rows = Snapshot(
                blobs=_blob_rows(copy.execute(_blob_query()).fetchall()),
                archives=_archive_rows(copy.execute(_archive_query()).fetchall()),
            )
        finally:
            copy.close()
            source.close()
        target.chmod(0o600)
        return rows

    def restore(self, source: Path) -> None:
        connection.close()
        backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        live = sqlite3.connect(self.path, timeout=60)
        try:
            backup.backup(live)
        finally:
            live.close()
            backup.close()


class PostgresEngine:
    name = "postgresql"
    file_name = "database.pgdump"

    def __init__(self, settings_dict: dict[str, Any]) -> None:
        self.settings = settings_dict

    def _environment(self) -> dict[str, str]:
        s = self.settings
        env = {**os.environ, "PGDATABASE": str(s["NAME"])}
        for key, variable in (
            ("HOST", "PGHOST"),
            ("PORT", "PGPORT"),
            ("USER", "PGUSER"),
            ("PASSWORD", "PGPASSWORD"),
        ):
            if s.get(key):
                env[variable] = str(s[key])
        sslmode = (s.get("OPTIONS") or {}).get("sslmode")
        if sslmode:
            env["PGSSLMODE"] = str(sslmode)
        return env

    @staticmethod
    def _tool(name: str) -> str:
        found = shutil.which(name)
        if found is None:
            raise BackupRefused(f"{name} is not installed (Debian: postgresql-client)")
        return found

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(  # noqa: S603 - fixed tools, arguments from settings
            command, env=self._environment(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise BackupRefused(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")

    def snapshot(self, target: Path) -> Snapshot:
        with transaction.atomic(), connection.cursor() as cursor:
            # The first statement of the transaction: its snapshot is what pg_dump will see.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot_id = cursor.fetchone()[0]
            self._run(
                [
                    self._tool("pg_dump"),
                    "--format=custom",
                    f"--snapshot={snapshot_id}",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={target}",
                ]
            )
            cursor.execute(_blob_query())
            blobs = _blob_rows(cursor.fetchall())
            cursor.execute(_archive_query())
            archives = _archive_rows(cursor.fetchall())
        target.chmod(0o600)
        return Snapshot(blobs=blobs, archives=archives)

    def restore(self, source: Path) -> None:
        connection.close()
        self._run(
            [
                self._tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={self.settings['NAME']}",
                str(source),
            ]
        )


def current_engine() -> Engine:
    """The engine of the ``default`` database (the test database inside tests)."""
    vendor = connection.vendor
    if vendor == "sqlite":
        return SqliteEngine(connection.settings_dict)
    if vendor == "postgresql":
        return PostgresEngine(connection.settings_dict)
    raise BackupRefused(f"backups support SQLite and PostgreSQL, not {vendor}")


def nonempty_tables() -> list[str]:
    """keiyaku's tables that hold rows (an installation to restore into must have none).

    A database without keiyaku's tables (never migrated) is empty too, and so is one with the
    rows `migrate` itself writes.
    """
    existing = set(connection.introspection.table_names())
    found = []
    for model in apps.get_models():
        if not model.__module__.startswith("keiyaku."):
            continue
        table = model._meta.db_table
        if table not in existing:
            continue
        rows = model._base_manager.using("default").all()
        if model is ChainHead:  # `migrate` writes the head of an empty audit log
            rows = rows.exclude(last_event_id=0, count=0)
        if rows.exists():
            found.append(table)
    return sorted(found)
