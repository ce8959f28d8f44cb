"""`keiyaku audit verify` and `keiyaku audit archive` (R39): tampering is found, nothing dropped."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from keiyaku.audit.models import Archive, Event
from keiyaku.audit.services import RequestMeta, audit_record


@pytest.fixture
def log(db) -> list[Event]:
    return [
        audit_record(
            event="contract.view",
            subject=f"contract:{i}",
            detail={"n": i, "名前": "髙橋", "nested": {"a": [1, 2]}},
            meta=RequestMeta(ip="2001:DB8::1" if i % 2 else "192.0.2.1", user_agent="pytest"),
        )
        for i in range(6)
    ]


def verify() -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_an_untouched_log_verifies(log):
    assert "audit log intact: 6 entries" in verify()


def test_an_edited_entry_is_named(log):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_event SET actor_label = %s WHERE id = %s", ["改ざん", log[2].pk]
        )
    with pytest.raises(CommandError, match=rf"broken at entry {log[2].pk}: entry altered"):
        verify()


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link(log):
    from keiyaku.audit.services import _digest, _fields

    entry = Event.objects.get(pk=log[2].pk)
    entry.detail = {"n": 999}
    new_hash = _digest(entry.prev_hash, _fields(entry))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_event SET detail = %s, hash = %s WHERE id = %s",
            [json.dumps({"n": 999}), new_hash, entry.pk],
        )
    with pytest.raises(CommandError, match=rf"broken at entry {log[3].pk}: previous entry"):
        verify()


def test_a_deleted_entry_is_found_at_the_next_one(log):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_event WHERE id = %s", [log[3].pk])
    with pytest.raises(CommandError, match=rf"broken at entry {log[4].pk}: previous entry"):
        verify()


def test_deleting_the_newest_entries_is_found(log):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_event WHERE id >= %s", [log[4].pk])
    with pytest.raises(CommandError, match=rf"broken at entry {log[4].pk}: newest entries deleted"):
        verify()


def test_deleting_the_newest_entries_is_still_found_after_new_entries(log):
    """The head names the last entry written; a new entry chains from it, not from whatever
    row is newest now. Chaining from the newest row healed the chain over a deletion: the next
    entry after the tampering made the log verify again."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_event WHERE id >= %s", [log[4].pk])
    later = audit_record(event="contract.view", subject="after")
    audit_record(event="contract.view", subject="after again")
    with pytest.raises(CommandError, match=rf"broken at entry {later.pk}: previous entry"):
        verify()


def test_deleting_every_entry_is_found_after_new_entries(log):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_event")
    later = audit_record(event="contract.view", subject="after")
    with pytest.raises(CommandError, match=rf"broken at entry {later.pk}: previous entry"):
        verify()


def test_deleting_every_entry_is_found(log):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_event")
    with pytest.raises(CommandError, match="entries deleted"):
        verify()


def _old_entries(monkeypatch, count: int, days: int) -> list[Event]:
    then = timezone.now() - dt.timedelta(days=days)
    monkeypatch.setattr(timezone, "now", lambda: then)
    entries = [audit_record(event="contract.view", subject=f"old:{i}") for i in range(count)]
    monkeypatch.undo()
    return entries


def test_archive_moves_old_entries_to_a_file_and_the_chain_goes_on(db, monkeypatch, store):
    old = _old_entries(monkeypatch, 3, days=500)
    recent = audit_record(event="contract.view", subject="recent")
    call_command("audit", "archive")
    archive = Archive.objects.get()
    assert (archive.first_event_id, archive.last_event_id, archive.count) == (
        old[0].pk,
        old[-1].pk,
        3,
    )
    # In the object storage (a folder or a bucket), where every process of keiyaku finds it.
    assert archive.path.startswith("audit-archive/")
    body = store.raw(archive.path)
    assert hashlib.sha256(body).hexdigest() == archive.sha256
    assert [json.loads(line)["id"] for line in body.decode().splitlines()] == [e.pk for e in old]
    assert not Event.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert Event.objects.filter(pk=recent.pk).exists()
    assert Event.objects.filter(event="audit.archive").exists()
    call_command("audit", "verify", "--archives")

    # An archive file changed afterwards is found.
    store.tamper(archive.path, body.replace(b"old:1", b"old:X"))
    with pytest.raises(CommandError, match="archive file altered"):
        call_command("audit", "verify", "--archives")


def test_an_archive_written_to_the_data_folder_still_verifies(db, monkeypatch, settings):
    """Archives from before the object storage recorded a file's absolute path."""
    old = _old_entries(monkeypatch, 2, days=500)
    call_command("audit", "archive")
    archive = Archive.objects.get()
    from keiyaku.storage.blobs import object_open

    with object_open(archive.path) as handle:
        body = handle.read()
    legacy = Path(settings.DATA_DIR) / "audit-archive" / f"audit-{old[0].pk}-{old[-1].pk}.jsonl"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_bytes(body)
    Archive.objects.filter(pk=archive.pk).update(path=str(legacy))
    call_command("audit", "verify", "--archives")
    legacy.unlink()
    with pytest.raises(CommandError, match="archive file missing"):
        call_command("audit", "verify", "--archives")


def test_entries_within_the_retention_period_are_kept(db, monkeypatch):
    _old_entries(monkeypatch, 2, days=300)
    call_command("audit", "archive")
    assert not Archive.objects.exists()
    assert Event.objects.count() == 2
    with pytest.raises(CommandError, match="at least 365 days"):
        call_command("audit", "archive", "--older-than-days", "30")


def test_a_broken_chain_is_never_archived(db, monkeypatch):
    old = _old_entries(monkeypatch, 2, days=500)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_event SET subject = 'x' WHERE id = %s", [old[0].pk])
    with pytest.raises(CommandError, match="chain is broken"):
        call_command("audit", "archive")
    assert Event.objects.count() == 2
