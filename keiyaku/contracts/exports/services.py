"""The exports (issue 15): a search result as CSV or as a ZIP of its signed PDFs and
certificates (R28), and everything an organisation holds (R34). Each is audited before its
first byte; each reads through the visibility selector (`walk.result_contracts`, R29) or,
for the whole organisation, refuses anyone but its admin (`require_org_admin`).

The functions return the export as an iterator of pieces (a streamed response, or a file
written piece by piece): the caller must consume it; a contract is read only when the
previous one has been written.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Organisation, Staff
from keiyaku.accounts.permissions import require_org_admin
from keiyaku.audit.models import Archive, Event
from keiyaku.audit.services import (
    SYSTEM,
    RequestMeta,
    archive_storage_name,
    audit_line,
    audit_record,
)
from keiyaku.contracts.exports import table
from keiyaku.contracts.exports.archive import (
    Entry,
    folder_write,
    zip_chunks,
    zip_write,
)
from keiyaku.contracts.exports.files import (
    StoredFile,
    contract_files,
    contract_folder,
    file_entries,
    files_prefetch,
)
from keiyaku.contracts.exports.walk import contract_batches, result_contracts
from keiyaku.contracts.models import Attachment, Contract, Surety, SuretyCorrection
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.services.sureties import surety_auth_key
from keiyaku.contracts.states import ContractStatus
from keiyaku.storage.blobs import object_open

NOTES = "注記.txt"
CONTRACTS_CSV = "契約一覧.csv"
CONTRACTS_JSON = "契約一覧.json"
AUDIT_JSONL = "操作ログ.jsonl"
CONTRACTS_FOLDER = "契約"


def _conditions(search: SearchConditions | None) -> dict[str, Any]:
    """The conditions as the audit entry records them (those that were set)."""
    if search is None:
        return {}
    return {k: v for k, v in asdict(search).items() if v not in ("", None, (), [])}


def result_csv(
    *, staff: Staff, search: SearchConditions | None, meta: RequestMeta
) -> Iterator[bytes]:
    """The whole result of ``search`` among the contracts ``staff`` sees (R28, R29) as CSV
    (`table`): every row, not one page, read in keyset batches. Audited as
    ``contracts.export_csv`` with the conditions."""
    audit_record(
        event="contracts.export_csv",
        organisation=staff.organisation,
        actor=staff,
        detail={"conditions": _conditions(search)},
        meta=meta,
    )
    return table.csv_chunks(contract_batches(result_contracts(staff, search)))


class _Notes:
    """Lines for 注記.txt (a contract with nothing to carry, a certificate being prepared),
    kept in a temporary file until the end."""

    def __init__(self) -> None:
        self._file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def add(self, line: str) -> None:
        self._file.write(line.replace("\n", " ") + "\r\n")
        self.count += 1

    def entry(self, heading: str) -> Entry:
        def chunks() -> Iterator[bytes]:
            yield heading.encode() + b"\r\n\r\n"
            self._file.seek(0)
            for line in self._file:
                yield line.encode()

        return Entry(NOTES, chunks, compress=True)

    def close(self) -> None:
        self._file.close()


def _contract_label(contract: Contract) -> str:
    number = f"（{contract.management_number}）" if contract.management_number else ""
    return f"{contract.title}{number} {contract.certificate_id}"


def _files_of(contract: Contract, notes: _Notes, *, history: bool = False) -> list[StoredFile]:
    files, certificate_missing = contract_files(contract, history=history)
    if certificate_missing:
        notes.add(
            _(
                "%(contract)s: 締結証明書を作成しています。しばらくしてから、もう一度ダウンロードしてください。"
            )
            % {"contract": _contract_label(contract)}
        )
    return files


def _result_entries(staff: Staff, search: SearchConditions | None) -> Iterator[Entry]:
    notes = _Notes()
    try:
        for batch in contract_batches(result_contracts(staff, search)):
            files_prefetch(batch)
            for contract in batch:
                files = _files_of(contract, notes)
                if not files:
                    notes.add(
                        _("%(contract)s: 締結済みの書類はありません（%(status)s）。")
                        % {
                            "contract": _contract_label(contract),
                            "status": ContractStatus(contract.status).label,
                        }
                    )
                yield from file_entries(contract_folder(contract), files)
        if notes.count:
            yield notes.entry(_("このZIPファイルに含まれないものがあります。"))
    finally:
        notes.close()


def result_zip(
    *, staff: Staff, search: SearchConditions | None, meta: RequestMeta
) -> Iterator[bytes]:
    """The signed PDFs and certificates of completion of the whole result of ``search`` among
    the contracts ``staff`` sees (R28, R29), as a ZIP streamed piece by piece (`archive`):
    a folder per contract (`files.contract_folder`), 注記.txt for what it does not hold
    (contracts not concluded, certificates being prepared), and the manifest (目録.csv,
    SHA256SUMS). Audited as ``contracts.export_zip`` with the conditions."""
    audit_record(
        event="contracts.export_zip",
        organisation=staff.organisation,
        actor=staff,
        detail={"conditions": _conditions(search)},
        meta=meta,
    )
    return zip_chunks(_result_entries(staff, search))


# --- everything (R34) --------------------------------------------------------------------------


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _removal(row: Attachment | Surety) -> dict[str, Any] | None:
    if row.removed_at is None:
        return None
    return {
        "at": _iso(row.removed_at),
        "by": row.removed_by.username if row.removed_by else None,
        "reason": row.removed_reason,
    }


def _surety_values(surety: Surety | SuretyCorrection, exported: dict[Any, str]) -> dict[str, Any]:
    return {
        "kind": surety.kind,
        "issuer": surety.issuer,
        "number": surety.number,
        "auth_key": surety_auth_key(surety),
        "amount": surety.amount,
        "period_start": _iso(surety.period_start),
        "period_end": _iso(surety.period_end),
        "notice": exported.get(surety.notice.blob_id) if surety.notice is not None else None,
    }


def contract_record(contract: Contract, files: list[StoredFile]) -> dict[str, Any]:
    """``contract`` as 契約一覧.json holds it: its fields (dates ISO 8601, times with their
    offset), department, author, parties, documents with every version's SHA-256, current
    certificate, and where each exported file is (its path in the export). After
    `files_prefetch`."""
    folder = f"{CONTRACTS_FOLDER}/{contract_folder(contract)}"
    by_position = {f.document_position: f for f in files if f.what in ("signed", "imported")}
    certificate = next((f for f in files if f.what == "certificate"), None)
    fields = (
        "title management_number counterparty_company amount auto_renew note status "
        "certificate_id status_reason allow_forwarding"
    ).split()
    record: dict[str, Any] = {"id": str(contract.pk)}
    record.update({name: getattr(contract, name) for name in fields})
    for name in ("contract_date", "period_start", "period_end", "notice_deadline"):
        record[name] = _iso(getattr(contract, name))
    for name in (
        "deadline",
        "created_at",
        "sent_at",
        "completed_at",
        "imported_at",
        "last_activity_at",
    ):
        record[name] = _iso(getattr(contract, name))
    record["department"] = contract.department.name if contract.department else None
    record["created_by"] = {
        "username": contract.created_by.username,
        "name": contract.created_by.display_name,
    }
    record["parties"] = [
        {
            "position": p.position,
            "step": p.step,
            "kind": p.kind,
            "role": p.role,
            "company": p.company,
            "name": p.name,
            "email": p.email,
            "status": p.status,
            "notified_at": _iso(p.notified_at),
            "agreed_at": _iso(p.agreed_at),
            "signed_at": _iso(p.signed_at),
            "auth_method": p.auth_method,
        }
        for p in contract.parties.all()
    ]
    record["documents"] = [
        {
            "position": d.position,
            "filename": d.filename,
            "page_count": d.page_count,
            "original_sha256": d.original.sha256,
            "versions": [
                {
                    "seq": v.seq,
                    "kind": v.kind,
                    "sha256": v.blob.sha256,
                    "size": v.blob.size,
                    "created_at": _iso(v.created_at),
                }
                for v in d.versions.all()
            ],
            "file": f"{folder}/{by_position[d.position].name}"
            if d.position in by_position
            else None,
        }
        for d in contract.documents.all()
    ]
    record["certificate"] = (
        {"sha256": certificate.blob.sha256, "file": f"{folder}/{certificate.name}"}
        if certificate is not None
        else None
    )
    # Every attachment and surety, the removed and corrected ones too, with who, when and why
    # (電子帳簿保存法's 訂正削除の履歴; removed files are in the export, `files.attachment_files`).
    exported = {f.blob.pk: f"{folder}/{f.name}" for f in files if f.what == "attachment"}
    record["attachments"] = [
        {
            "file": exported.get(a.blob_id),
            "filename": a.filename,
            "sha256": a.blob.sha256,
            "added_at": _iso(a.added_at),
            "removed": _removal(a),
        }
        for a in contract.attachments.all()
        if a.blob_id in exported
    ]
    # The 認証キー in clear: the export is its organisation's admin's (R34) for taking the
    # contracts elsewhere, and the notice PDF beside it carries the same key (R32).
    record["sureties"] = [
        {
            **_surety_values(s, exported),
            "added_at": _iso(s.added_at),
            "removed": _removal(s),
            # Each correction with the values the surety held before it, oldest first.
            "corrections": [
                {
                    "at": _iso(c.corrected_at),
                    "by": c.corrected_by.username,
                    "reason": c.reason,
                    **_surety_values(c, exported),
                }
                for c in s.corrections.all()
            ],
        }
        for s in contract.sureties.all()
    ]
    return record


def _organisation_contracts(organisation: Organisation) -> Iterator[list[Contract]]:
    for batch in contract_batches(Contract.objects.filter(organisation=organisation)):
        files_prefetch(batch)
        yield batch


def _json_chunks(organisation: Organisation, exported_at: dt.datetime) -> Iterator[bytes]:
    named = {"name": organisation.name, "slug": organisation.slug}
    yield (
        f'{{\n "organisation": {json.dumps(named, ensure_ascii=False)},'
        f'\n "exported_at": {json.dumps(exported_at.isoformat())},'
        '\n "contracts": ['
    ).encode()
    first = True
    for batch in _organisation_contracts(organisation):
        for contract in batch:
            files, _missing = contract_files(contract, history=True)
            text = json.dumps(contract_record(contract, files), ensure_ascii=False)
            yield ("\n" if first else ",\n").encode() + text.encode()
            first = False
    yield b"\n ]\n}\n"


def _audit_chunks(organisation: Organisation) -> Iterator[bytes]:
    """The organisation's audit entries, one JSON line each as the audit archives write them
    (with the hash chain's fields): those already archived, then those in the database."""
    for archive in Archive.objects.order_by("first_event_id"):
        name = archive_storage_name(archive.path)
        if Path(archive.path).is_absolute():
            opened: Any = Path(archive.path).open("rb")  # noqa: SIM115 - before issue 11
        else:
            opened = object_open(name)
        with opened as handle:
            for line in handle:
                if json.loads(line).get("organisation") == organisation.pk:
                    yield bytes(line)
    after = 0
    while True:
        events = list(
            Event.objects.filter(organisation=organisation, id__gt=after).order_by("id")[:1000]
        )
        if not events:
            return
        for event in events:
            yield (audit_line(event) + "\n").encode()
        after = events[-1].pk


def organisation_entries(organisation: Organisation) -> Iterator[Entry]:
    """Everything ``organisation`` holds, as export entries (R34): under 契約/, a folder per
    contract with its signed PDFs, certificate of completion, imported files and attachments,
    removed ones included (`files.contract_files`, ``history``); 契約一覧.csv (`table`) and 契約一覧.json (`contract_record`) of
    every contract; 操作ログ.jsonl, its audit entries; 注記.txt for certificates being
    prepared. The contracts are read three times (files, JSON, CSV), each time in batches."""
    exported_at = timezone.now()
    notes = _Notes()
    try:
        for batch in _organisation_contracts(organisation):
            for contract in batch:
                files = _files_of(contract, notes, history=True)
                yield from file_entries(f"{CONTRACTS_FOLDER}/{contract_folder(contract)}", files)
        yield Entry(CONTRACTS_JSON, lambda: _json_chunks(organisation, exported_at), compress=True)
        yield Entry(
            CONTRACTS_CSV,
            lambda: table.csv_chunks(
                contract_batches(Contract.objects.filter(organisation=organisation))
            ),
            compress=True,
        )
        yield Entry(AUDIT_JSONL, lambda: _audit_chunks(organisation), compress=True)
        if notes.count:
            yield notes.entry(_("このエクスポートに含まれないものがあります。"))
    finally:
        notes.close()


def _export_record(organisation: Organisation, actor: Staff | None, meta: RequestMeta, how: str):
    audit_record(
        event="organisation.export",
        organisation=organisation,
        actor=actor,
        actor_label="" if actor is not None else "keiyaku export",
        detail={"to": how},
        meta=meta,
    )


def organisation_export_zip(
    *, organisation: Organisation, actor: Staff, meta: RequestMeta
) -> Iterator[bytes]:
    """Everything ``organisation`` holds (`organisation_entries`) as a ZIP streamed piece by
    piece, for its admin (R34). Audited as ``organisation.export``.

    Raises NotAllowed when ``actor`` is not the organisation's admin.
    """
    require_org_admin(actor, organisation)
    _export_record(organisation, actor, meta, "download")
    return zip_chunks(organisation_entries(organisation))


def organisation_export_write(*, organisation: Organisation, dest: Path) -> int | None:
    """Everything ``organisation`` holds written to ``dest`` on disk (`keiyaku export`): a ZIP
    file when ``dest`` ends in ``.zip`` (it must not exist), else a folder (empty or missing).
    Returns the number of files in the folder's manifest (None for a ZIP). Audited as
    ``organisation.export``. Raises FileExistsError when ``dest`` is taken."""
    as_zip = dest.suffix.lower() == ".zip"
    if as_zip and dest.exists():
        raise FileExistsError(f"{dest} exists")
    _export_record(organisation, None, SYSTEM, "zip file" if as_zip else "folder")
    if as_zip:
        zip_write(organisation_entries(organisation), dest)
        return None
    return folder_write(organisation_entries(organisation), dest)
