"""The backup folder: its layout, the manifest, the lock, rotation of generations (R42).

    DEST/
      .lock                         held while a backup writes (one at a time)
      objects/ab/<sha256>           stored objects, named by the SHA-256 of their stored bytes,
                                    shared by every generation, written once
      generations/<UTC time>/       one generation, complete: it is renamed into place last
        manifest.json
        database.sqlite3 | database.pgdump
        pki/<file>                  the authority's certificates and master-key-protected keys
        audit-archive/<file>        the audit archives (R39), copied from the object storage,
                                    where each one's name is this path

A generation being written is ``generations/.partial-<time>``; one left by a crash is removed by
the next backup. Names sort in time order.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.base import File

FORMAT = "keiyaku-backup/1"
MANIFEST = "manifest.json"
PARTIAL = ".partial-"
_CHUNK = 1024 * 1024


class BackupRefused(Exception):
    """A backup or restore will not run, or stopped: the message says why and what to do.

    Not a `keiyaku.refusals.Refusal`: only the operator's command and the nightly job's log see
    it, in English like the rest of `keiyaku audit`'s output.
    """


@dataclass(frozen=True)
class ObjectEntry:
    """One stored object (a Blob row of the snapshot)."""

    blob: str
    """The Blob's id (UUID text); its object name in storage follows from it."""
    sha256: str
    """SHA-256 of the plaintext, as the Blob row records it (hex)."""
    size: int
    """Plaintext size in bytes."""
    stored_sha256: str
    """SHA-256 of the stored (encrypted) bytes: the file name under ``objects/``."""
    stored_size: int
    """Stored size in bytes."""


@dataclass(frozen=True)
class FileEntry:
    """A file copied into the generation (database, PKI, audit archive)."""

    file: str
    """Path inside the generation folder."""
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    format: str
    created_at: str
    """ISO 8601, UTC."""
    engine: str
    """"sqlite" or "postgresql": a backup restores only into the same engine."""
    database: FileEntry
    master_key_check: str
    """Base64 of a value sealed with the master key: a restore with another key is refused."""
    objects: list[ObjectEntry] = field(default_factory=list)
    pki: list[FileEntry] = field(default_factory=list)
    audit_archives: list[FileEntry] = field(default_factory=list)

    def write(self, path: Path) -> None:
        write_file_atomically(path, json.dumps(asdict(self), indent=1).encode())

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            raw: dict[str, Any] = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise BackupRefused(f"{path} is not a readable backup manifest: {exc}") from exc
        if raw.get("format") != FORMAT:
            raise BackupRefused(f"{path} is not a {FORMAT} manifest (format {raw.get('format')!r})")
        return cls(
            format=raw["format"],
            created_at=raw["created_at"],
            engine=raw["engine"],
            database=FileEntry(**raw["database"]),
            master_key_check=raw["master_key_check"],
            objects=[ObjectEntry(**o) for o in raw["objects"]],
            pki=[FileEntry(**f) for f in raw["pki"]],
            audit_archives=[FileEntry(**f) for f in raw["audit_archives"]],
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, flush to disk, rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_entry(path: Path) -> FileEntry:
    """A file's entry by its own name (the caller prefixes its folder in the generation)."""
    return FileEntry(file=path.name, sha256=file_sha256(path), size=path.stat().st_size)


def copy_stream(source: File, target: Path) -> FileEntry:
    """Write a file object (read in chunks, never whole) to a new file readable only by its
    owner, flushed to disk; its entry as `file_entry` gives it."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256()
    size = 0
    with open(target, "xb") as out:
        target.chmod(0o600)
        for chunk in source.chunks(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return FileEntry(file=target.name, sha256=digest.hexdigest(), size=size)


def copy_file(source: Path, target: Path) -> FileEntry:
    """Copy a file readable only by its owner; its entry as `file_entry` gives it."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(source, target)
    target.chmod(0o600)
    return file_entry(target)


class BackupFolder:
    """DEST as laid out above."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.generations = self.root / "generations"

    def object_path(self, stored_sha256: str) -> Path:
        return self.objects / stored_sha256[:2] / stored_sha256

    def put_object(self, stored_sha256: str, data: bytes) -> bool:
        """Store an object's bytes under their hash; False when it was there already."""
        path = self.object_path(stored_sha256)
        if path.exists():
            return False
        write_file_atomically(path, data)
        return True

    def complete_generations(self) -> list[Path]:
        """Complete generations, oldest first."""
        if not self.generations.is_dir():
            return []
        return sorted(
            p
            for p in self.generations.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file()
        )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One backup at a time into a folder; a second one is refused, not queued."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.root / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise BackupRefused(f"another backup is being written into {self.root}") from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def remove_partial(self) -> None:
        """Generations a crashed backup left half written (call with the lock held)."""
        if self.generations.is_dir():
            for path in self.generations.iterdir():
                if path.name.startswith(PARTIAL):
                    shutil.rmtree(path)

    def rotate(self, keep: int) -> list[str]:
        """Keep the newest ``keep`` generations, then drop objects none of them names.

        Call with the lock held. Returns the names of the generations removed.
        """
        if keep < 1:
            raise BackupRefused("KEIYAKU_BACKUP_KEEP must be at least 1")
        generations = self.complete_generations()
        removed = generations[:-keep]
        for path in removed:
            shutil.rmtree(path)
        wanted = {
            entry.stored_sha256
            for path in generations[-keep:]
            for entry in Manifest.read(path / MANIFEST).objects
        }
        if self.objects.is_dir():
            for path in self.objects.glob("*/*"):
                if path.name not in wanted:
                    path.unlink()
        return [p.name for p in removed]


def resolve_generation(source: Path) -> tuple[BackupFolder, Path]:
    """``source`` is a backup folder (its newest generation is meant) or one generation."""
    source = Path(source)
    if (source / MANIFEST).is_file():
        return BackupFolder(source.parent.parent), source
    folder = BackupFolder(source)
    generations = folder.complete_generations()
    if not generations:
        raise BackupRefused(f"{source} holds no complete backup generation")
    return folder, generations[-1]
