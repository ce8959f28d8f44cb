"""Writing, checking and archiving the audit log (R39).

Every entry carries the SHA-256 of its own fields and of the previous entry's hash, so an entry
edited or deleted in the database breaks the chain. `ChainHead` remembers the newest entry, so
deleting the newest entries is noticed too. `audit_record` runs inside the transaction of the
operation it records.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from keiyaku.accounts.network import client_ip
from keiyaku.audit.models import Archive, ChainHead, Event
from keiyaku.storage.blobs import object_open, object_put


@dataclass(frozen=True)
class RequestMeta:
    """Where an operation came from (R19): client address and user agent."""

    ip: str | None = None
    user_agent: str = ""
    api_token: str = ""
    """The name of the API token the operation came through (R40), recorded in the entry's
    detail as ``api_token``; empty for the screens and keiyaku's own jobs."""

    @classmethod
    def from_request(cls, request: Any) -> RequestMeta:
        return cls(
            ip=client_ip(request),
            # Recorded as sent (exports guard what a spreadsheet would run), except a NUL,
            # which PostgreSQL text cannot hold.
            user_agent=(request.META.get("HTTP_USER_AGENT") or "").replace("\x00", " ")[:500],
        )


SYSTEM = RequestMeta()


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _fields(entry: Event) -> dict[str, Any]:
    """What the hash covers, read back from a row exactly as it was written."""
    return {
        "organisation": entry.organisation_id,
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "subject": entry.subject,
        "event": entry.event,
        "detail": entry.detail,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "created_at": entry.created_at.isoformat(),
    }


def audit_record(
    *,
    event: str,
    organisation: Any = None,
    actor: Any = None,
    actor_label: str = "",
    subject: str = "",
    detail: dict[str, Any] | None = None,
    meta: RequestMeta = SYSTEM,
) -> Event:
    """Append one entry to the audit log (R19, R39) and return it.

    Args:
        event: what happened, a dotted name (``contract.send``, ``api.call``); the audit
            screen labels it (`keiyaku.audit.labels`).
        organisation, actor: whose log it is and who acted (None for keiyaku's own jobs);
            ``actor_label`` names an actor that is not a staff member (at most 400 characters).
        subject: what it happened to (``contract:<id>``, ``api_token:<id>``).
        detail: JSON-serialisable details; ``meta.api_token`` is added as ``api_token``.
        meta: client address and user agent of the request (`RequestMeta`).

    The entry is chained after the one the head names (`ChainHead`, under its row lock) and
    the head moves to it, in one transaction: inside the caller's transaction when there is
    one, so the entry is written exactly when the operation it records is. Entries are
    chained one at a time across the installation: the head's lock is held until that
    transaction ends.
    """
    label = actor_label or (actor.label if actor is not None else "")
    ip_field = Event._meta.get_field("ip")
    entry = Event(
        organisation=organisation,
        actor=actor,
        actor_label=label[:400],
        subject=subject,
        event=event,
        # Stored as JSON and read back as JSON: hash what will be read back.
        detail=json.loads(
            json.dumps(
                {**(detail or {}), **({"api_token": meta.api_token} if meta.api_token else {})},
                default=str,
            )
        ),
        ip=ip_field.get_prep_value(meta.ip) if meta.ip else None,  # type: ignore[attr-defined]
        user_agent=meta.user_agent,
        created_at=timezone.now(),
    )
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        # From the entry the head names (the last one written, or the last archived), never
        # from the newest row found: after the newest rows were deleted, that would chain the
        # next entry over the gap and the log would verify again.
        last = head.last_hash
        entry.prev_hash = last
        entry.hash = _digest(last, _fields(entry))
        entry.save()
        ChainHead.objects.filter(pk=1).update(
            last_event_id=entry.pk, last_hash=entry.hash, count=head.count + 1
        )
    return entry


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def _walk(entries: Iterable[Event], prev_hash: str) -> Iterator[tuple[Event, str | None]]:
    """Each entry with what is wrong with it (None when it is intact)."""
    for entry in entries:
        if entry.prev_hash != prev_hash:
            yield entry, "previous entry missing or altered (prev_hash does not match)"
        elif _digest(entry.prev_hash, _fields(entry)) != entry.hash:
            yield entry, "entry altered (its hash does not match its content)"
        else:
            yield entry, None
        prev_hash = entry.hash


def audit_verify() -> ChainReport:
    """Check the whole chain in the database, from the last archive on, against the head."""
    archive = Archive.objects.order_by("-id").first()
    prev_hash = archive.last_hash if archive else ""
    checked = 0
    last: Event | None = None
    for entry, problem in _walk(Event.objects.order_by("id").iterator(chunk_size=2000), prev_hash):
        checked += 1
        if problem:
            return ChainReport(False, checked, entry.pk, problem)
        last = entry
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_event_id:
        if last is None and head.last_hash != prev_hash:
            return ChainReport(False, checked, head.last_event_id, "entries deleted (log is empty)")
        if last is not None and (last.pk, last.hash) != (head.last_event_id, head.last_hash):
            if last.pk < head.last_event_id:
                return ChainReport(
                    False,
                    checked,
                    last.pk + 1,
                    f"newest entries deleted (the head names entry {head.last_event_id})",
                )
            return ChainReport(False, checked, last.pk, "the chain head does not match")
    elif last is not None:
        return ChainReport(False, checked, last.pk, "the chain head is missing")
    return ChainReport(True, checked)


# --- archiving ---------------------------------------------------------------------------------


ARCHIVE_PREFIX = "audit-archive/"
"""Where archives go in the object storage (KEIYAKU_STORAGE_URL), beside the blobs."""


def archive_storage_name(path: str) -> str:
    """The storage name of an archive whose row records ``path``: the name itself, or for an
    archive written before issue 11 (the absolute path of a file in the data folder) the name
    ``audit-archive/<its file name>`` that a restore gives it in the object storage."""
    if Path(path).is_absolute():
        return f"{ARCHIVE_PREFIX}{Path(path).name}"
    return path


def _archive_body(path: str) -> bytes:
    """An archive's bytes: a storage name, or (archives written before issue 11) a file in the
    data folder, recorded by its absolute path. FileNotFoundError when it is gone."""
    if Path(path).is_absolute():
        return Path(path).read_bytes()
    with object_open(path) as handle:
        return bytes(handle.read())


def _line(entry: Event) -> str:
    row = {"id": entry.pk, **_fields(entry), "prev_hash": entry.prev_hash, "hash": entry.hash}
    return json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)


def audit_line(entry: Event) -> str:
    """``entry`` as one JSON line, as the archives hold it: its id, the fields its hash covers,
    ``prev_hash`` and ``hash`` (an organisation's export carries its entries so, R34)."""
    return _line(entry)


class ArchiveRefused(Exception):
    """The archive will not run (retention too short, chain broken).

    Not a `keiyaku.refusals.Refusal`: only the operator's command and the nightly job's log see
    it, in English like the rest of `keiyaku audit`'s output.
    """


def audit_archive(*, older_than_days: int | None = None) -> Archive | None:
    """Move entries older than the retention period into a file; record the file's SHA-256.

    The chain is verified first and the entries are deleted only in the transaction that
    records the archive, so entries are never dropped without a file holding them.
    """
    days = older_than_days if older_than_days is not None else settings.KEIYAKU_AUDIT_RETENTION_DAYS
    if days < 365:
        raise ArchiveRefused("the audit log is kept at least 365 days (R39)")
    report = audit_verify()
    if not report.ok:
        raise ArchiveRefused(f"the chain is broken at entry {report.broken_id}: {report.reason}")
    cutoff = timezone.now() - timedelta(days=days)
    # The oldest entries form a prefix of the chain: archive up to the newest one that is old.
    boundary = (
        Event.objects.filter(created_at__lt=cutoff).order_by("-id").values_list("id", flat=True)
    ).first()
    if boundary is None:
        return None
    with transaction.atomic():
        entries = list(Event.objects.filter(id__lte=boundary).order_by("id"))
        body = "".join(_line(e) + "\n" for e in entries).encode()
        # In the object storage, write-once (a rolled-back run leaves its object behind, so the
        # name carries a random part and the next run does not collide with it).
        name = (
            f"{ARCHIVE_PREFIX}audit-{entries[0].pk:012d}-{entries[-1].pk:012d}"
            f"-{uuid.uuid4().hex[:12]}.jsonl"
        )
        object_put(name, io.BytesIO(body))
        archive = Archive.objects.create(
            first_event_id=entries[0].pk,
            last_event_id=entries[-1].pk,
            last_hash=entries[-1].hash,
            count=len(entries),
            path=name,
            sha256=hashlib.sha256(body).hexdigest(),
        )
        Event.objects.filter(id__lte=boundary).delete()
        audit_record(
            event="audit.archive",
            detail={
                "first": archive.first_event_id,
                "last": archive.last_event_id,
                "count": archive.count,
                "file": name.rsplit("/", 1)[-1],
                "sha256": archive.sha256,
            },
        )
    return archive


def archive_verify(archive: Archive, prev_hash: str) -> ChainReport:
    """Check an archive file against its recorded SHA-256 and the chain inside it."""
    path = archive.path
    try:
        body = _archive_body(path)
    except FileNotFoundError:
        return ChainReport(False, 0, archive.first_event_id, f"archive file missing: {path}")
    if hashlib.sha256(body).hexdigest() != archive.sha256:
        return ChainReport(False, 0, archive.first_event_id, f"archive file altered: {path}")
    checked = 0
    for line in body.decode().splitlines():
        row = json.loads(line)
        checked += 1
        fields = {k: row[k] for k in row if k not in ("id", "prev_hash", "hash")}
        if row["prev_hash"] != prev_hash or _digest(prev_hash, fields) != row["hash"]:
            return ChainReport(False, checked, row["id"], f"archived entry broken in {path}")
        prev_hash = row["hash"]
    if prev_hash != archive.last_hash:
        return ChainReport(False, checked, archive.last_event_id, f"archive incomplete: {path}")
    return ChainReport(True, checked)
