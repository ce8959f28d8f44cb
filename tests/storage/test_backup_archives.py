"""Backups of the audit archives, which live in the object storage beside the blobs (R39, R42).

An archive's row names its storage name (``audit-archive/…``); one written before issue 11
names the absolute path of a file in the data folder. A backup copies each archive the
database snapshot names, from wherever it is; a restore puts it into the new installation's
object storage and points an old row at its storage name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from keiyaku.audit.models import Archive
from keiyaku.audit.services import audit_archive, audit_record
from keiyaku.storage.backup import BackupRefused, backup_create
from keiyaku.storage.backup.layout import MANIFEST, BackupFolder, Manifest
from keiyaku.storage.blobs import object_open, object_storage
from tests.conftest import Personas
from tests.flow import draft_contract
from tests.storage.installation import Installation, facts


@pytest.fixture
def personas(transactional_db: None) -> Personas:
    """Committed rows: a backup reads the database as other processes see it."""
    from keiyaku.pki.service import get_authority

    get_authority()
    return Personas()


def _archive(monkeypatch: pytest.MonkeyPatch, subject: str = "old") -> Archive:
    then = timezone.now() - dt.timedelta(days=400)
    monkeypatch.setattr(timezone, "now", lambda: then)
    audit_record(event="contract.view", subject=subject)
    monkeypatch.undo()
    archive = audit_archive()
    assert archive is not None
    return archive


def _as_written_before_issue_11(archive: Archive) -> Path:
    """Move an archive back to where keiyaku kept it before issue 11: a file in the data
    folder, its row naming the absolute path."""
    with object_open(archive.path) as handle:
        body = bytes(handle.read())
    path = Path(django_settings.DATA_DIR) / "audit-archive" / archive.path.rsplit("/", 1)[-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    object_storage().delete(archive.path)
    Archive.objects.filter(pk=archive.pk).update(path=str(path))
    return path


def test_a_generation_holds_each_archive_under_its_storage_name(personas, tmp_path, monkeypatch):
    archive = _archive(monkeypatch)
    report = backup_create(dest=tmp_path)
    manifest = Manifest.read(report.generation / MANIFEST)
    assert [e.file for e in manifest.audit_archives] == [archive.path]
    copied = (report.generation / archive.path).read_bytes()
    assert hashlib.sha256(copied).hexdigest() == archive.sha256 == manifest.audit_archives[0].sha256


def test_archives_on_s3_are_backed_up_and_restored_into_another_bucket(
    personas, tmp_path, monkeypatch, s3_storage
):
    archive = _archive(monkeypatch)
    draft_contract(personas.sender)
    backup_create(dest=tmp_path / "backup")
    target = s3_storage.server.create_bucket()
    other = Installation(tmp_path / "other", **s3_storage.server.environ(target, "restored"))
    other.keiyaku("restore", str(tmp_path / "backup"))
    before, after = facts(), other.facts()
    assert after == before
    assert "audit log intact" in after["audit"]
    restored = s3_storage.server.client().get_object(Bucket=target, Key=f"restored/{archive.path}")[
        "Body"
    ]
    assert hashlib.sha256(restored.read()).hexdigest() == archive.sha256
    # Nothing of the restored installation went into its data folder.
    assert not (other.data_dir / "files").exists()
    assert not (other.data_dir / "audit-archive").exists()


def test_an_archive_written_before_issue_11_is_restored_into_the_object_storage(
    personas, tmp_path, monkeypatch
):
    archive = _archive(monkeypatch)
    old_file = _as_written_before_issue_11(archive)
    before = facts()
    assert "audit log intact" in before["audit"]  # the old path still verifies
    report = backup_create(dest=tmp_path / "backup")
    storage_name = f"audit-archive/{old_file.name}"
    manifest = Manifest.read(report.generation / MANIFEST)
    assert [e.file for e in manifest.audit_archives] == [storage_name]
    other = Installation(tmp_path / "other")
    other.keiyaku("restore", str(tmp_path / "backup"))
    after = other.facts()
    assert after == before  # [["audit-archive/<file>", sha256]], and the log verifies
    assert (other.data_dir / "files" / storage_name).read_bytes() == old_file.read_bytes()
    assert not (other.data_dir / "audit-archive").exists()


def test_a_missing_audit_archive_stops_the_backup(personas, tmp_path, monkeypatch):
    archive = _archive(monkeypatch)
    object_storage().delete(archive.path)
    with pytest.raises(BackupRefused, match=f"audit archive {archive.path} .* is missing"):
        backup_create(dest=tmp_path)
    assert BackupFolder(tmp_path).complete_generations() == []


def test_restore_refuses_an_object_storage_that_holds_audit_archives(
    personas, tmp_path, monkeypatch
):
    _archive(monkeypatch)
    backup_create(dest=tmp_path / "backup")
    other = Installation(tmp_path / "other")
    stray = other.data_dir / "files" / "audit-archive" / "audit-000000000001-000000000001-x.jsonl"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"{}\n")
    done = other.keiyaku("restore", str(tmp_path / "backup"), check=False)
    assert done.returncode != 0
    assert "the object storage holds 1 audit archives" in done.stderr


def test_restore_refuses_a_manifest_that_puts_an_archive_elsewhere(personas, tmp_path, monkeypatch):
    import json

    _archive(monkeypatch)
    report = backup_create(dest=tmp_path / "backup")
    raw = json.loads((report.generation / MANIFEST).read_text())
    entry = raw["audit_archives"][0]
    moved = "blobs/00/" + entry["file"].rsplit("/", 1)[-1]
    (report.generation / moved).parent.mkdir(parents=True)
    (report.generation / entry["file"]).rename(report.generation / moved)
    entry["file"] = moved
    (report.generation / MANIFEST).write_text(json.dumps(raw))
    other = Installation(tmp_path / "other")
    done = other.keiyaku("restore", str(tmp_path / "backup"), check=False)
    assert done.returncode != 0
    assert "is not an audit archive name" in done.stderr
    assert not any((other.data_dir / "files").rglob("*"))  # made empty at start
