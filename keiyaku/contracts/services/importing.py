"""Importing contracts concluded elsewhere, on paper or in another service (R30).

An imported contract is created completed (``imported_at`` set, no parties, no routing), with
the same metadata as a new contract. Each file is stored exactly as it came (the first
version, kind IMPORTED, is the original blob); then a job (``tasks.stamp_import``) appends a
document timestamp from the configured TSAs (``engine.timestamp_document``, in a budgeted
child) as the next version (IMPORT_STAMPED), with its ``ArchiveTimestamp`` row, so that the
archival renewal (``services.renewal``) finds and renews it like a concluded document.

Invariants:
- Nothing is stored unless every file and every row passes its checks
  (``signing.importing.import_check``, in budgeted children); files are checked and stored
  before the transaction, which only creates the rows, the search index and the audit entry;
  a failure discards the blobs written.
- The original bytes are a prefix of the stamped file (checked before it is stored); the
  SHA-256 of both are recorded (the blobs and the audit entries).
- A web request never asks a TSA: the stamp is a job, retried with back-off while no TSA
  answers (as an agreement's signature is), and the sweeper queues it again when it was lost.
  Until then the contract is listed and downloadable, its page says the stamp is pending.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Department, Role, Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.custom_fields import custom_values_clean, custom_values_store
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.filenames import clean_filename
from keiyaku.contracts.models import (
    Contract,
    ContractStatus,
    Document,
    DocumentVersion,
    RenewalReason,
    VersionKind,
)
from keiyaku.contracts.permissions import require_contract_editor
from keiyaku.contracts.search_index import document_text_index
from keiyaku.contracts.services.archive_timestamps import archive_timestamp_record
from keiyaku.contracts.services.drafting import MAX_AMOUNT
from keiyaku.contracts.services.printable import require_printable
from keiyaku.contracts.services.progress import contract_lock
from keiyaku.jobs.leases import lease_confirm
from keiyaku.signing import archive, budget
from keiyaku.signing.finalising import timestamp_budgeted
from keiyaku.signing.importing import Importable, import_check
from keiyaku.signing.ingest import RefusedUpload
from keiyaku.signing.keys import get_timestamper, get_validation_inputs
from keiyaku.signing.tsas import tsa_attempts_record, tsa_outage_since
from keiyaku.storage.blobs import blob_discard, blob_get, blob_put, keyring_create
from keiyaku.storage.models import Blob, KeyRing
from keiyaku.text_input import require_single_line, require_text

__all__ = [
    "ImportFile",
    "ImportItem",
    "ImportMetadata",
    "contracts_import",
    "import_files_check",
    "import_metadata_check",
    "import_stamp",
    "import_stamp_pending",
    "import_stamp_sweep",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportFile:
    """One file to import: the name it came with and its content (bytes, or the path of a
    file holding them that does not change meanwhile: an upload Django wrote to disk)."""

    filename: str
    data: bytes | Path


@dataclass(frozen=True)
class ImportMetadata:
    """What a new contract records (the contract form's fields), for an imported one."""

    title: str
    management_number: str = ""
    counterparty_company: str = ""
    amount: int | None = None
    """Yen."""
    contract_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    auto_renew: bool = False
    notice_deadline: date | None = None
    """R31: the last day to give notice that an automatically renewed contract ends."""
    note: str = ""
    department: Department | None = None
    """None: the importing staff member's own department."""
    custom_values: Mapping[int, str] = field(default_factory=dict)
    """The organisation's custom fields: field id → the value as typed (issue 15)."""


@dataclass
class ImportItem:
    """One contract to import: its metadata and files; ``checked`` holds each file's
    ``import_check`` result once checked (``import_files_check``)."""

    metadata: ImportMetadata
    files: Sequence[ImportFile]
    checked: list[Importable] = field(default_factory=list)


def import_metadata_check(metadata: ImportMetadata, *, actor: Staff) -> None:
    """Refuse metadata a new contract would refuse, with the field it concerns.

    The department must be one of the actor's organisation; a sender who is not an admin
    imports only into their own department (so that they can see what they imported, R29).

    Raises:
        ContractError: codes title_required, period, amount, amount_too_large, department,
            notice_deadline, custom_* (a custom field's value: `custom_fields`);
            TextRefusal/printable refusals for control characters.
    """
    if not metadata.title.strip():
        raise ContractError(_("案件名を入力してください。"), code="title_required", field="title")
    start, end = metadata.period_start, metadata.period_end
    if start and end and end < start:
        raise ContractError(
            _("契約期間の終了日が開始日より前です。"), code="period", field="period_end"
        )
    if metadata.amount is not None and metadata.amount < 0:
        raise ContractError(_("取引金額は0以上で入力してください。"), code="amount", field="amount")
    if metadata.amount is not None and metadata.amount > MAX_AMOUNT:
        raise ContractError(_("取引金額が大きすぎます。"), code="amount_too_large", field="amount")
    if metadata.notice_deadline and end and metadata.notice_deadline > end:
        raise ContractError(
            _("更新拒絶の通知期限が契約期間の終了日より後です。"),
            code="notice_deadline",
            field="notice_deadline",
        )
    require_single_line(
        title=("案件名", metadata.title),
        management_number=("管理番号", metadata.management_number),
        counterparty_company=("相手方（会社名）", metadata.counterparty_company),
    )
    require_text(note=("備考", metadata.note))
    require_printable(案件名=metadata.title, 管理番号=metadata.management_number)
    if actor.organisation_id is not None:  # a required field missing, a value of the wrong kind
        custom_values_clean(actor.organisation_id, metadata.custom_values)
    department = metadata.department
    if department is not None:
        if department.organisation_id != actor.organisation_id:
            raise ContractError(
                _("所属が正しくありません。"), code="department", field="department"
            )
        if not actor.has_role(Role.ADMIN) and department.pk != actor.department_id:
            raise ContractError(
                _("自分の所属以外の所属には取り込めません（管理者は取り込めます）。"),
                code="department",
                field="department",
            )


def import_files_check(files: Sequence[ImportFile]) -> list[Importable]:
    """Check every file (``signing.importing.import_check``, each in budgeted children):
    count (KEIYAKU_MAX_FILES) and each file's size (KEIYAKU_MAX_FILE_BYTES, as uploads), then
    what appending a timestamp needs. Raises ContractError naming the file."""
    if not files:
        raise ContractError(_("契約書のPDFを1つ以上選択してください。"), code="no_files")
    if len(files) > settings.KEIYAKU_MAX_FILES:
        raise ContractError(
            _("ファイルは%(count)d個までです。") % {"count": settings.KEIYAKU_MAX_FILES},
            code="too_many_files",
        )
    checked = []
    for item in files:
        try:
            checked.append(import_check(item.data, max_bytes=settings.KEIYAKU_MAX_FILE_BYTES))
        except RefusedUpload as exc:
            raise ContractError(f"{item.filename}: {exc.message}", code=exc.code) from exc
    return checked


def contracts_import(
    *, actor: Staff, items: Sequence[ImportItem], meta: RequestMeta = SYSTEM
) -> list[Contract]:
    """Import one or more contracts concluded elsewhere: all of them, or none (R30).

    Only a sender or an admin imports, into their own organisation
    (``require_contract_editor``; ``NotAllowed`` otherwise). Every item's metadata
    (``import_metadata_check``) and files (``import_files_check``, unless ``checked`` already
    holds their results from this request's dry run) are checked first; then the files are
    stored as they came, outside any transaction, and one transaction creates the contracts
    (completed, ``imported_at`` now), their documents and first versions, the search index and
    one ``contract.import`` audit entry each. Each file's document timestamp is queued after
    the commit (``tasks.stamp_import``). Blobs of an import that fails are discarded.

    Raises:
        NotAllowed: not a sender or admin of an organisation.
        ContractError: the first bad metadata or file (naming the file).
    """
    require_contract_editor(actor)
    if actor.organisation is None:
        raise ContractError(_("組織に所属する職員だけが取り込めます。"), code="no_organisation")
    if not items:
        raise ContractError(_("取り込む契約がありません。"), code="nothing")
    for item in items:
        import_metadata_check(item.metadata, actor=actor)
    for item in items:
        if len(item.checked) != len(item.files):
            item.checked = import_files_check(item.files)
    stored: list[tuple[KeyRing, list[Blob]]] = []
    try:
        for item in items:
            keyring = keyring_create()
            blobs: list[Blob] = []
            stored.append((keyring, blobs))
            for file, checked in zip(item.files, item.checked, strict=True):
                blob = blob_put(keyring=keyring, data=file.data)  # a path is read in chunks
                blobs.append(blob)
                if blob.sha256 != checked.sha256:  # the file changed after its check
                    raise ContractError(
                        _("%(filename)s: ファイルが確認の後に変わりました。")
                        % {"filename": file.filename},
                        code="changed",
                    )
        with transaction.atomic():
            contracts = [
                _contract_rows(actor=actor, item=item, keyring=keyring, blobs=blobs, meta=meta)
                for item, (keyring, blobs) in zip(items, stored, strict=True)
            ]
            documents = [
                document.pk for contract in contracts for document in contract.documents.all()
            ]
            transaction.on_commit(lambda: _queue_stamps(documents))
    except BaseException:
        for keyring, blobs in stored:
            for blob in blobs:
                blob_discard(blob)
            keyring.delete()
        raise
    return contracts


def _contract_rows(
    *, actor: Staff, item: ImportItem, keyring: KeyRing, blobs: list[Blob], meta: RequestMeta
) -> Contract:
    assert actor.organisation is not None
    data, now = item.metadata, timezone.now()
    contract = Contract.objects.create(
        organisation=actor.organisation,
        created_by=actor,
        department=data.department or actor.department,
        keyring=keyring,
        title=data.title.strip(),
        management_number=data.management_number.strip(),
        counterparty_company=data.counterparty_company.strip(),
        amount=data.amount,
        contract_date=data.contract_date,
        period_start=data.period_start,
        period_end=data.period_end,
        auto_renew=data.auto_renew,
        notice_deadline=data.notice_deadline,
        note=data.note,
        allow_forwarding=False,
        status=ContractStatus.COMPLETED,
        certificate_id=secrets.token_hex(10).upper(),
        completed_at=now,
        imported_at=now,
        last_activity_at=now,
    )
    custom_values_store(contract, custom_values_clean(actor.organisation.pk, data.custom_values))
    files = []
    for position, (file, checked, blob) in enumerate(
        zip(item.files, item.checked, blobs, strict=True), start=1
    ):
        document = Document.objects.create(
            contract=contract,
            position=position,
            filename=clean_filename(file.filename) or f"document-{position}.pdf",
            original=blob,
            page_count=checked.page_count,
            page_sizes=[list(size) for size in checked.page_sizes],
        )
        DocumentVersion.objects.create(
            document=document, seq=1, kind=VersionKind.IMPORTED, blob=blob
        )
        document_text_index(document, checked.text)
        files.append(
            {
                "filename": document.filename,
                "sha256": blob.sha256,
                "size": blob.size,
                "signatures": checked.signatures,
            }
        )
    audit_record(
        event="contract.import",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"title": contract.title, "files": files},
        meta=meta,
    )
    return contract


def _queue_stamps(document_ids: Sequence[int]) -> None:
    from keiyaku.contracts.tasks import stamp_import

    for document_id in document_ids:
        stamp_import(document_id)


def import_stamp(*, document_id: int, wait: float = 0) -> bool:
    """Append the document timestamp of an imported file (R30): the configured TSAs with
    failover (``keys.get_timestamper``), the TSA's validation data in the DSS, in one
    incremental revision made in a budgeted child; stored as the next version with its
    ``ArchiveTimestamp`` row (reason IMPORTED, so the archival renewal finds it) and the audit
    entry ``document.import_stamp`` (SHA-256 of the original and of the stamped file), in one
    transaction under the contract's lease. Returns False when there was nothing to do
    (stamped already). Idempotent: a second run finds the stamped version.

    Raises:
        TimestampUnavailable: no TSA answered (the job retries with back-off); nothing stored.
        ContractBusy: another job holds the contract for longer than ``wait`` seconds.
        BudgetExceeded: the child ran past its budget (the job retries; logged).
    """
    document = Document.objects.select_related("contract").get(pk=document_id)
    with contract_lock(document.contract_id, wait=wait) as lease:
        version = document.versions.select_related("blob__keyring").order_by("-seq").first()
        if version is None or version.kind != VersionKind.IMPORTED:
            return False
        original = blob_get(version.blob)
        timestamper = get_timestamper()
        try:
            context = get_validation_inputs(timestamper=timestamper)
        finally:
            tsa_attempts_record(timestamper.drain())
        data = timestamp_budgeted(original, timestamper=timestamper, validation_context=context)
        if not data.startswith(original):  # engine.timestamp_document only appends
            raise RuntimeError(
                f"the stamped document {document_id} does not begin with its original"
            )
        # What the timestamp rests on, for its renewal (R21), read in a child: the file came
        # from outside keiyaku.
        info = budget.run(archive.newest_document_timestamp, data)
        assert info is not None  # engine.timestamp_document has just added one
        blob = blob_put(keyring=version.blob.keyring, data=data)
        try:
            with transaction.atomic():
                lease_confirm(lease)
                stamped = DocumentVersion.objects.create(
                    document=document,
                    seq=version.seq + 1,
                    kind=VersionKind.IMPORT_STAMPED,
                    blob=blob,
                )
                archive_timestamp_record(version=stamped, info=info, reason=RenewalReason.IMPORTED)
                audit_record(
                    event="document.import_stamp",
                    organisation=document.contract.organisation,
                    subject=document.contract.audit_subject,
                    detail={
                        "document": document.pk,
                        "filename": document.filename,
                        "original_sha256": version.blob.sha256,
                        "sha256": blob.sha256,
                        "tsa": info.tsa_name,
                        "gen_time": info.gen_time.isoformat(),
                    },
                )
        except IntegrityError:
            blob_discard(blob)  # stamped meanwhile by another run
            return False
    return True


def import_stamp_sweep(*, older_than: timedelta) -> int:
    """Queue again the stamps of imported files still without one ``older_than`` after their
    import (a job lost with a killed worker); returns how many. Queues nothing while every
    TSA fails: the queued jobs retry with back-off on their own (issue 13)."""
    if tsa_outage_since() is not None:
        return 0
    limit = timezone.now() - older_than
    waiting = list(
        Document.objects.filter(
            contract__imported_at__isnull=False, contract__imported_at__lte=limit
        )
        .exclude(versions__kind=VersionKind.IMPORT_STAMPED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _queue_stamps(waiting)
    return len(waiting)


def import_stamp_pending(contract: Contract) -> bool:
    """Whether a file of this imported contract still waits for its document timestamp."""
    return (
        contract.is_imported
        and contract.documents.exclude(versions__kind=VersionKind.IMPORT_STAMPED).exists()
    )
