"""`keiyaku backup` and `keiyaku restore` (R42): generations, rotation, refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from keiyaku.storage.backup import BackupRefused, backup_create, backup_restore
from keiyaku.storage.backup.layout import MANIFEST, BackupFolder, Manifest
from keiyaku.storage.models import Blob
from tests.conftest import Personas
from tests.flow import draft_contract
from tests.storage.installation import Installation


@pytest.fixture
def personas(transactional_db: None) -> Personas:
    """Committed rows: a backup reads the database as other processes see it."""
    from keiyaku.pki.service import get_authority

    get_authority()  # the PKI folder exists from the first signature on
    return Personas()


def manifest_of(generation: Path) -> Manifest:
    return Manifest.read(generation / MANIFEST)


def test_a_generation_names_every_object_with_its_sha256(personas, tmp_path):
    draft_contract(personas.sender, documents=2)
    report = backup_create(dest=tmp_path / "backup")
    manifest = manifest_of(report.generation)
    blobs = {str(b.id): b for b in Blob.objects.all()}
    assert {o.blob for o in manifest.objects} == set(blobs)
    folder = BackupFolder(tmp_path / "backup")
    for entry in manifest.objects:
        assert entry.sha256 == blobs[entry.blob].sha256
        stored = folder.object_path(entry.stored_sha256).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == entry.stored_sha256
    assert manifest.engine in {"sqlite", "postgresql"}
    # The authority's six files (certificates and master-key-protected keys), never the key.
    assert {e.file for e in manifest.pki} >= {"pki/root.crt.pem", "pki/signer.key.pem"}
    text = b"".join(p.read_bytes() for p in report.generation.rglob("*") if p.is_file())
    from django.conf import settings

    assert settings.MASTER_KEY.encode() not in text


def test_a_second_generation_copies_only_new_objects(personas, tmp_path):
    draft_contract(personas.sender)
    first = backup_create(dest=tmp_path)
    assert first.objects_copied == first.objects > 0
    again = backup_create(dest=tmp_path)
    assert (again.objects, again.objects_copied, again.bytes_copied) == (first.objects, 0, 0)
    draft_contract(personas.sender, documents=2)
    third = backup_create(dest=tmp_path)
    assert third.objects_copied == Blob.objects.count() - first.objects > 0


def test_ten_backups_leave_eight_generations_and_only_their_objects(personas, tmp_path):
    """Acceptance 4: 10 backups leave exactly 8 generations (the default of the setting)."""
    folder = BackupFolder(tmp_path)
    for _ in range(10):
        draft_contract(personas.sender)  # every generation has objects of its own
        backup_create(dest=tmp_path)
    generations = folder.complete_generations()
    assert len(generations) == 8
    assert sorted(folder.generations.iterdir()) == generations
    wanted = {o.stored_sha256 for g in generations for o in manifest_of(g).objects}
    on_disk = {p.name for p in folder.objects.glob("*/*")}
    assert on_disk == wanted
    # Each object once, however many generations name it.
    assert len(on_disk) == Blob.objects.count()


def test_the_keep_setting_and_option_rotate(personas, tmp_path, settings):
    settings.KEIYAKU_BACKUP_KEEP = 3
    for _ in range(4):
        backup_create(dest=tmp_path / "a")
    assert len(BackupFolder(tmp_path / "a").complete_generations()) == 3
    for _ in range(3):
        call_command("backup", str(tmp_path / "b"), "--keep", "2")
    assert len(BackupFolder(tmp_path / "b").complete_generations()) == 2


def test_a_crashed_backup_leaves_no_generation_and_is_cleaned_up(personas, tmp_path):
    draft_contract(personas.sender)
    folder = BackupFolder(tmp_path)
    partial = folder.generations / ".partial-20260101T000000.000000Z"
    partial.mkdir(parents=True)
    (partial / "database.sqlite3").write_bytes(b"half")
    assert folder.complete_generations() == []
    backup_create(dest=tmp_path)
    assert not partial.exists()
    assert len(folder.complete_generations()) == 1


def test_a_missing_stored_object_stops_the_backup(personas, tmp_path):
    from keiyaku.storage.blobs import object_storage

    contract = draft_contract(personas.sender)
    object_storage().delete(contract.documents.get().original.object_name)
    with pytest.raises(BackupRefused, match="is missing"):
        backup_create(dest=tmp_path)
    assert BackupFolder(tmp_path).complete_generations() == []


def test_restore_refuses_a_non_empty_installation(personas, tmp_path):
    draft_contract(personas.sender)
    backup_create(dest=tmp_path)
    with pytest.raises(CommandError, match="only into an empty installation") as refused:
        call_command("restore", str(tmp_path))
    assert "the database has rows in" in str(refused.value)
    assert "object storage holds" in str(refused.value)


def test_restore_refuses_another_master_key(personas, tmp_path, settings):
    backup_create(dest=tmp_path)
    settings.MASTER_KEY = "another installation's master key"
    with pytest.raises(BackupRefused, match="master key"):
        backup_restore(source=tmp_path)


def test_restore_refuses_a_damaged_object_before_writing_anything(personas, tmp_path):
    draft_contract(personas.sender)
    report = backup_create(dest=tmp_path / "backup")
    folder = BackupFolder(tmp_path / "backup")
    victim = folder.object_path(manifest_of(report.generation).objects[0].stored_sha256)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    other = Installation(tmp_path / "other")
    done = other.keiyaku("restore", str(tmp_path / "backup"), check=False)
    assert done.returncode != 0
    assert "the backup is damaged: object of blob" in done.stderr
    # Nothing was written: the same installation takes an intact backup afterwards.
    assert not any((other.data_dir / "files").rglob("*"))  # made empty at start
    assert not (other.data_dir / "pki").exists()


@pytest.mark.slow(seconds=30)
def test_restore_brings_back_objects_pki_and_audit_archives_in_their_new_place(
    personas, tmp_path, monkeypatch
):
    import datetime as dt

    from django.utils import timezone

    from keiyaku.audit.services import audit_archive, audit_record
    from tests.storage.installation import facts

    then = timezone.now() - dt.timedelta(days=400)
    monkeypatch.setattr(timezone, "now", lambda: then)
    audit_record(event="contract.view", subject="old")
    monkeypatch.undo()
    assert audit_archive() is not None
    draft_contract(personas.sender, documents=2)
    backup_create(dest=tmp_path / "backup")
    other = Installation(tmp_path / "other")
    other.keiyaku("migrate", "--noinput")  # empty tables count as empty
    done = other.keiyaku("restore", str(tmp_path / "backup"))
    assert "restored" in done.stdout
    before, after = facts(), other.facts()
    # The archive rows keep their storage names, and the objects their bytes.
    assert after == before
    assert after["archives"][0][0].startswith("audit-archive/")
    # A second restore into the now restored installation is refused.
    again = other.keiyaku("restore", str(tmp_path / "backup"), check=False)
    assert again.returncode != 0
    assert "only into an empty installation" in again.stderr


def _on_day(monkeypatch: pytest.MonkeyPatch, day: int) -> None:
    """The clock of the job's once-a-period claim (keiyaku.jobs.periodic) on another day."""
    import datetime as dt

    from django.utils import timezone

    then = timezone.now() + dt.timedelta(days=day)
    monkeypatch.setattr(timezone, "now", lambda: then)


def test_the_daily_job_writes_a_generation_only_when_configured(
    personas, tmp_path, settings, monkeypatch
):
    from keiyaku.storage.tasks import backup_daily

    settings.KEIYAKU_BACKUP_DIR = ""
    _on_day(monkeypatch, 1)
    backup_daily.call_local()
    settings.KEIYAKU_BACKUP_DIR = str(tmp_path / "daily")
    _on_day(monkeypatch, 2)
    backup_daily.call_local()
    _on_day(monkeypatch, 3)
    backup_daily.call_local()
    generations = BackupFolder(tmp_path / "daily").complete_generations()
    assert len(generations) == 2
    assert json.loads((generations[0] / MANIFEST).read_text())["format"] == "keiyaku-backup/1"


def test_the_daily_job_enqueued_by_every_consumer_runs_once(
    personas, tmp_path, settings, monkeypatch
):
    """Each consumer's scheduler enqueues the periodic job at its hour: one backup, not one
    per consumer (the others would wait for the folder's lock, or write a twin generation)."""
    from keiyaku.storage.tasks import backup_daily

    settings.KEIYAKU_BACKUP_DIR = str(tmp_path / "daily")
    _on_day(monkeypatch, 0)  # one minute for both
    backup_daily.call_local()
    backup_daily.call_local()  # a second consumer, the same minute
    assert len(BackupFolder(tmp_path / "daily").complete_generations()) == 1
