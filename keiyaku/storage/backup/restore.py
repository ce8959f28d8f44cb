"""`backup_restore`: one generation back into an empty installation (R42)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile

from keiyaku.audit.models import Archive
from keiyaku.audit.services import archive_dir, audit_verify
from keiyaku.storage import crypto
from keiyaku.storage.backup.create import CHECK_PURPOSE, CHECK_TEXT, object_storage
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
from keiyaku.storage.blobs import BlobIntegrityError, blob_get
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
            "installation's master key, kept apart from the backups, and restore again"
        ) from exc
    if opened != CHECK_TEXT:
        raise BackupRefused("the backup's master key check holds an unexpected value")


def _stored_object_names() -> list[str]:
    storage = object_storage()
    try:
        folders, files = storage.listdir("blobs")
    except FileNotFoundError:
        return []
    names = [f"blobs/{f}" for f in files]
    for sub in folders:
        names += [f"blobs/{sub}/{f}" for f in storage.listdir(f"blobs/{sub}")[1]]
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
    objects = _stored_object_names()
    if objects:
        problems.append(f"the object storage holds {len(objects)} objects")
    pki = _files_in(Path(settings.KEIYAKU_PKI_DIR))
    if pki:
        problems.append(f"the PKI folder {settings.KEIYAKU_PKI_DIR} holds {', '.join(pki)}")
    archives = _files_in(archive_dir())
    if archives:
        problems.append(f"the audit archive folder {archive_dir()} holds {len(archives)} files")
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
    Audit archive rows are pointed at this installation's archive folder (their files move).
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
    archives = [_check_file(generation, e) for e in manifest.audit_archives]
    _check_objects(folder, manifest)

    engine.restore(database)
    storage = object_storage()
    for entry in manifest.objects:
        name = Blob(id=entry.blob).object_name
        data = folder.object_path(entry.stored_sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry.stored_sha256:
            raise BackupRefused(f"the backup changed while it was read: blob {entry.blob}")
        if storage.save(name, ContentFile(data)) != name:
            raise BackupRefused(f"the object storage renamed {name}: it was not empty")
    pki_dir = Path(settings.KEIYAKU_PKI_DIR)
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in pki:
        shutil.copyfile(path, pki_dir / path.name)
        (pki_dir / path.name).chmod(0o600)
    archive_folder = archive_dir()
    archive_folder.mkdir(parents=True, exist_ok=True)
    for path in archives:
        shutil.copyfile(path, archive_folder / path.name)
    # The rows name the old installation's folder; the hash chain does not cover the path.
    for archive in Archive.objects.all():
        Archive.objects.filter(pk=archive.pk).update(
            path=str(archive_folder / Path(archive.path).name)
        )

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
