"""`backup_restore`: one generation back into an empty installation (R42)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from keiyaku.audit.models import Archive
from keiyaku.audit.services import ARCHIVE_PREFIX, archive_storage_name, audit_verify
from keiyaku.storage import crypto
from keiyaku.storage.backup.create import CHECK_PURPOSE, CHECK_TEXT
from keiyaku.storage.backup.database import current_engine, nonempty_tables
from keiyaku.storage.backup.layout import (
    MANIFEST,
    BackupFolder,
    BackupRefused,
    FileEntry,
    Manifest,
    file_sha256,
    resolve_generation,
)
from keiyaku.storage.blobs import BlobIntegrityError, blob_get, object_put, object_storage
from keiyaku.storage.models import Blob


@dataclass(frozen=True)
class RestoreReport:
    generation: Path
    objects: int
    """Objects restored, each decrypted and checked against its Blob row's SHA-256."""
    audit_entries: int
    audit_ok: bool
    """The restored audit chain verifies (it is restored as it was, even if it did not)."""
    seconds: float


def _check_master_key(manifest: Manifest) -> None:
    try:
        sealed = base64.b64decode(manifest.master_key_check, validate=True)
        opened = crypto.open_sealed(sealed, purpose=CHECK_PURPOSE)
    except (binascii.Error, crypto.SealBroken) as exc:
        raise BackupRefused(
            "this installation's master key is not the one the backup was taken with: set "
            "KEIYAKU_MASTER_KEY (or the data folder's master_key file) to the backed-up "
            "installation's master key, kept apart from the backups, or, for a backup taken "
            "before a master key rotation, list that key in KEIYAKU_MASTER_KEY_PREVIOUS; and "
            "restore again"
        ) from exc
    if opened != CHECK_TEXT:
        raise BackupRefused("the backup's master key check holds an unexpected value")


def _stored_object_names(prefix: str) -> list[str]:
    """Names of the stored objects under the folder ``prefix`` (``blobs``, ``audit-archive``),
    at any depth; none when it does not exist."""
    storage = object_storage()
    try:
        folders, files = storage.listdir(prefix)
    except FileNotFoundError:
        return []
    names = [f"{prefix}/{f}" for f in files if not f.startswith(".")]
    for sub in folders:
        names += _stored_object_names(f"{prefix}/{sub}")
    return names


def _files_in(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def _refuse_unless_empty() -> None:
    """Restore only into a new installation: nothing it holds may be overwritten or mixed."""
    problems = []
    tables = nonempty_tables()
    if tables:
        problems.append(f"the database has rows in {', '.join(tables[:5])}")
    objects = _stored_object_names("blobs")
    if objects:
        problems.append(f"the object storage holds {len(objects)} objects")
    archives = _stored_object_names(ARCHIVE_PREFIX.rstrip("/"))
    if archives:
        problems.append(f"the object storage holds {len(archives)} audit archives")
    pki = _files_in(Path(settings.KEIYAKU_PKI_DIR))
    if pki:
        problems.append(f"the PKI folder {settings.KEIYAKU_PKI_DIR} holds {', '.join(pki)}")
    if problems:
        raise BackupRefused(
            "restore goes only into an empty installation (a new database, an empty object "
            "storage and data folder): " + "; ".join(problems)
        )


def _check_file(generation: Path, entry: FileEntry) -> Path:
    path = generation / entry.file
    if not path.is_file():
        raise BackupRefused(f"the backup is damaged: {path} is missing")
    if file_sha256(path) != entry.sha256:
        raise BackupRefused(f"the backup is damaged: {path} does not match its SHA-256")
    return path


def _check_archive_name(entry: FileEntry) -> str:
    """An audit archive's storage name is its path in the generation: ``audit-archive/<file>``
    and nothing else (a manifest naming another place is refused)."""
    file = entry.file.removeprefix(ARCHIVE_PREFIX)
    if file == entry.file or not file or "/" in file or file.startswith("."):
        raise BackupRefused(f"the backup is damaged: {entry.file} is not an audit archive name")
    return entry.file


def _check_objects(folder: BackupFolder, manifest: Manifest) -> None:
    for entry in manifest.objects:
        path = folder.object_path(entry.stored_sha256)
        if not path.is_file():
            raise BackupRefused(f"the backup is damaged: object of blob {entry.blob} is missing")
        if file_sha256(path) != entry.stored_sha256:
            raise BackupRefused(f"the backup is damaged: object of blob {entry.blob} was altered")


def backup_restore(*, source: Path) -> RestoreReport:
    """Restore a generation into this installation, which must be empty.

    ``source`` is a backup folder (its newest generation) or one generation's folder. Before
    anything is written: the master key must open the manifest's check, the database engine
    must be the backup's, the installation must be empty, and every file and object must match
    the manifest's SHA-256. Afterwards every Blob row of the restored database must have its
    object, decrypting to the SHA-256 the row records. Raises BackupRefused naming the problem.
    Audit archives go into the object storage under ``audit-archive/``; the row of one written
    before issue 11 (an absolute path in the old data folder) is pointed at its storage name.
    """
    started = time.monotonic()
    folder, generation = resolve_generation(Path(source))
    manifest = Manifest.read(generation / MANIFEST)
    _check_master_key(manifest)
    engine = current_engine()
    if engine.name != manifest.engine:
        raise BackupRefused(
            f"the backup is of a {manifest.engine} database; this installation uses {engine.name}"
        )
    _refuse_unless_empty()
    database = _check_file(generation, manifest.database)
    pki = [_check_file(generation, e) for e in manifest.pki]
    archives = [
        (_check_archive_name(e), _check_file(generation, e)) for e in manifest.audit_archives
    ]
    _check_objects(folder, manifest)

    engine.restore(database)
    for entry in manifest.objects:
        name = Blob(id=entry.blob).object_name
        data = folder.object_path(entry.stored_sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry.stored_sha256:
            raise BackupRefused(f"the backup changed while it was read: blob {entry.blob}")
        object_put(name, io.BytesIO(data))
    pki_dir = Path(settings.KEIYAKU_PKI_DIR)
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in pki:
        shutil.copyfile(path, pki_dir / path.name)
        (pki_dir / path.name).chmod(0o600)
    for name, path in archives:
        with open(path, "rb") as handle:
            object_put(name, handle)
    restored_archives = {name for name, _ in archives}
    for archive in Archive.objects.all():
        name = archive_storage_name(archive.path)
        if name not in restored_archives:
            raise BackupRefused(
                f"the restored database names audit archive {archive.path}, the backup lacks it"
            )
        if name != archive.path:
            # A file of the old installation's data folder, now an object; the hash chain
            # does not cover the path.
            Archive.objects.filter(pk=archive.pk).update(path=name)

    listed = {entry.blob for entry in manifest.objects}
    restored = 0
    for blob in Blob.objects.select_related("keyring").iterator(chunk_size=500):
        if str(blob.id) not in listed:
            raise BackupRefused(f"the restored database names blob {blob.id}, the backup lacks it")
        try:
            blob_get(blob)
        except (BlobIntegrityError, crypto.SealBroken) as exc:
            raise BackupRefused(f"blob {blob.id} does not open to its recorded SHA-256") from exc
        restored += 1
    report = audit_verify()
    return RestoreReport(
        generation=generation,
        objects=restored,
        audit_entries=report.checked,
        audit_ok=report.ok,
        seconds=time.monotonic() - started,
    )
