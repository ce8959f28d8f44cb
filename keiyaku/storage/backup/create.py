"""`backup_create`: one new generation in a backup folder, then rotation (R42)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import File

from keiyaku.audit.services import archive_storage_name
from keiyaku.storage import crypto
from keiyaku.storage.backup.database import ArchiveRow, BlobRow, current_engine
from keiyaku.storage.backup.layout import (
    MANIFEST,
    PARTIAL,
    BackupFolder,
    BackupRefused,
    FileEntry,
    Manifest,
    ObjectEntry,
    copy_file,
    copy_stream,
    file_entry,
)
from keiyaku.storage.blobs import object_open
from keiyaku.storage.models import Blob

# The sealed value a restore must open (purpose of its own: it opens nothing else).
CHECK_PURPOSE = "backup-check"
CHECK_TEXT = b"keiyaku backup"


@dataclass(frozen=True)
class BackupReport:
    generation: Path
    objects: int
    """Objects the generation names."""
    objects_copied: int
    """Objects read from storage for this generation (the rest were in the previous one)."""
    bytes_copied: int
    """Stored bytes of the objects copied."""
    database_bytes: int
    removed: list[str]
    """Generations removed by rotation."""
    seconds: float


def _generation_name() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _previous_objects(folder: BackupFolder) -> dict[str, ObjectEntry]:
    generations = folder.complete_generations()
    if not generations:
        return {}
    manifest = Manifest.read(generations[-1] / MANIFEST)
    return {entry.blob: entry for entry in manifest.objects}


def _copy_objects(
    folder: BackupFolder, rows: list[BlobRow], previous: dict[str, ObjectEntry]
) -> tuple[list[ObjectEntry], int, int]:
    entries: list[ObjectEntry] = []
    copied = copied_bytes = 0
    for row in rows:
        known = previous.get(str(row.id))
        if known is not None and folder.object_path(known.stored_sha256).is_file():
            entries.append(known)  # write-once: the object cannot have changed
            continue
        name = Blob(id=row.id).object_name
        try:
            with object_open(name) as fh:
                data = bytes(fh.read())
        except FileNotFoundError as exc:
            raise BackupRefused(f"stored object {name} of blob {row.id} is missing") from exc
        stored_sha256 = hashlib.sha256(data).hexdigest()
        folder.put_object(stored_sha256, data)
        copied += 1
        copied_bytes += len(data)
        entries.append(
            ObjectEntry(
                blob=str(row.id),
                sha256=row.sha256,
                size=row.size,
                stored_sha256=stored_sha256,
                stored_size=len(data),
            )
        )
    return entries, copied, copied_bytes


def _open_archive(path: str) -> File:
    if Path(path).is_absolute():  # written before issue 11: a file in the data folder
        return File(open(path, "rb"))  # noqa: SIM115 - the caller closes it
    return object_open(path)


def _copy_archives(rows: list[ArchiveRow], target: Path) -> list[FileEntry]:
    """The audit archives the snapshot names, streamed from the object storage into the
    generation as ``audit-archive/<file>``: that path is also each one's storage name (an
    archive written before issue 11 is read from its file in the data folder and gets its
    storage name on restore). Copied as they are, even altered: ``audit verify --archives``
    judges them. BackupRefused when one is missing."""
    entries = []
    for row in rows:
        name = archive_storage_name(row.path)
        try:
            source = _open_archive(row.path)
        except FileNotFoundError as exc:
            raise BackupRefused(f"audit archive {row.path} (archive {row.id}) is missing") from exc
        with source:
            entry = copy_stream(source, target / name)
        entries.append(FileEntry(file=name, sha256=entry.sha256, size=entry.size))
    return entries


def _copy_folder(source: Path, target: Path, prefix: str) -> list[FileEntry]:
    """Regular files of a folder (not hidden ones: locks, temporaries), sorted by name."""
    if not source.is_dir():
        return []
    entries = []
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            entry = copy_file(path, target / path.name)
            entries.append(
                FileEntry(file=f"{prefix}/{entry.file}", sha256=entry.sha256, size=entry.size)
            )
    return entries


def backup_create(*, dest: Path, keep: int | None = None) -> BackupReport:
    """Write a new generation into the backup folder ``dest``, then keep the newest ``keep``.

    ``keep`` defaults to ``KEIYAKU_BACKUP_KEEP`` (8). Runs while the service is in use: the
    database copy is one consistent moment and the objects are those that moment names.
    Raises BackupRefused when another backup is writing into ``dest``, a stored object is
    missing, or the database dump fails; a failed generation is never renamed into place.
    The master key is not written (docs/operations.md, "Backups").
    """
    started = time.monotonic()
    keep = settings.KEIYAKU_BACKUP_KEEP if keep is None else keep
    if keep < 1:
        raise BackupRefused("keep at least one generation")
    folder = BackupFolder(Path(dest))
    engine = current_engine()
    with folder.locked():
        folder.remove_partial()
        name = _generation_name()
        partial = folder.generations / f"{PARTIAL}{name}"
        partial.mkdir(parents=True, mode=0o700)
        database_file = partial / engine.file_name
        snapshot = engine.snapshot(database_file)
        database = file_entry(database_file)
        objects, copied, copied_bytes = _copy_objects(
            folder, snapshot.blobs, _previous_objects(folder)
        )
        check = crypto.seal(CHECK_TEXT, purpose=CHECK_PURPOSE)
        manifest = Manifest(
            format="keiyaku-backup/1",
            created_at=dt.datetime.now(dt.UTC).isoformat(),
            engine=engine.name,
            database=database,
            master_key_check=base64.b64encode(check).decode(),
            objects=objects,
            pki=_copy_folder(Path(settings.KEIYAKU_PKI_DIR), partial / "pki", "pki"),
            audit_archives=_copy_archives(snapshot.archives, partial),
        )
        manifest.write(partial / MANIFEST)
        generation = folder.generations / name
        partial.rename(generation)
        removed = folder.rotate(keep)
    return BackupReport(
        generation=generation,
        objects=len(objects),
        objects_copied=copied,
        bytes_copied=copied_bytes,
        database_bytes=database.size,
        removed=removed,
        seconds=time.monotonic() - started,
    )
