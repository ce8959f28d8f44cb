"""Drafting and sending a contract (staff side)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from keiyaku.accounts.models import Role, Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import (
    Contract,
    ContractStatus,
    Document,
    DocumentVersion,
    Party,
    PartyKind,
    PartyRole,
    VersionKind,
)
from keiyaku.contracts.services.printable import require_printable
from keiyaku.contracts.services.routing import advance, restep
from keiyaku.contracts.timefmt import JST
from keiyaku.signing import engine
from keiyaku.signing.boxes import BoxSpec
from keiyaku.signing.geometry import displayed_to_user, page_geometry
from keiyaku.signing.ingest import Ingested, RefusedUpload, ingest_pdf, stamp_certificate_id
from keiyaku.storage.blobs import blob_get, blob_put, keyring_create


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def _touch(contract: Contract) -> None:
    Contract.objects.filter(pk=contract.pk).update(last_activity_at=timezone.now())


def _require_draft(contract: Contract) -> None:
    if contract.status != ContractStatus.DRAFT:
        raise ContractError("送信済みの案件は変更できません。", code="not_draft")


def _ingest_all(uploads: Sequence[Upload], *, already: int, already_bytes: int) -> list[Ingested]:
    """Check every upload before anything is stored: all are accepted or none."""
    if already + len(uploads) > settings.KEIYAKU_MAX_FILES:
        raise ContractError(
            f"1つの案件に登録できるファイルは{settings.KEIYAKU_MAX_FILES}件までです。",
            code="too_many_files",
        )
    total = already_bytes + sum(len(u.data) for u in uploads)
    if total > settings.KEIYAKU_MAX_CONTRACT_BYTES:
        limit = settings.KEIYAKU_MAX_CONTRACT_BYTES // (1024 * 1024)
        raise ContractError(
            f"1つの案件のファイルの合計は{limit}MBまでです。", code="contract_too_large"
        )
    results = []
    for upload in uploads:
        try:
            results.append(ingest_pdf(upload.data, max_bytes=settings.KEIYAKU_MAX_FILE_BYTES))
        except RefusedUpload as exc:
            raise ContractError(f"{upload.filename}: {exc.message}", code=exc.code) from exc
    return results


def _store_document(
    *, contract: Contract, position: int, upload: Upload, ingested: Ingested
) -> Document:
    original = blob_put(keyring=contract.keyring, data=upload.data)
    normalised = blob_put(keyring=contract.keyring, data=ingested.normalised)
    document = Document.objects.create(
        contract=contract,
        position=position,
        filename=upload.filename[:255] or f"document-{position}.pdf",
        original=original,
        page_count=ingested.page_count,
        page_sizes=[list(size) for size in ingested.page_sizes],
    )
    DocumentVersion.objects.create(
        document=document, seq=1, kind=VersionKind.NORMALISED, blob=normalised
    )
    return document


@transaction.atomic
def contract_create(
    *,
    actor: Staff,
    title: str,
    uploads: Sequence[Upload],
    management_number: str = "",
    counterparty_company: str = "",
    amount: int | None = None,
    contract_date: date | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    auto_renew: bool = False,
    note: str = "",
    allow_forwarding: bool = True,
    meta: RequestMeta = SYSTEM,
) -> Contract:
    """Create a draft with its documents. Refused uploads leave nothing behind."""
    if not title.strip():
        raise ContractError("案件名を入力してください。", code="title_required")
    if period_start and period_end and period_end < period_start:
        raise ContractError("契約期間の終了日が開始日より前です。", code="period")
    if amount is not None and amount < 0:
        raise ContractError("取引金額は0以上で入力してください。", code="amount")
    if not uploads:
        raise ContractError("契約書のPDFを1つ以上選択してください。", code="no_files")
    require_printable(案件名=title, 管理番号=management_number)
    ingested = _ingest_all(uploads, already=0, already_bytes=0)
    if actor.organisation is None:
        raise ContractError("組織に所属する職員だけが案件を作成できます。", code="no_organisation")
    now = timezone.now()
    contract = Contract.objects.create(
        organisation=actor.organisation,
        created_by=actor,
        department=actor.department,
        keyring=keyring_create(),
        title=title.strip(),
        management_number=management_number.strip(),
        counterparty_company=counterparty_company.strip(),
        amount=amount,
        contract_date=contract_date,
        period_start=period_start,
        period_end=period_end,
        auto_renew=auto_renew,
        note=note,
        allow_forwarding=allow_forwarding,
        certificate_id=secrets.token_hex(10).upper(),
        last_activity_at=now,
    )
    for position, (upload, result) in enumerate(zip(uploads, ingested, strict=True), start=1):
        _store_document(contract=contract, position=position, upload=upload, ingested=result)
    audit_record(
        event="contract.create",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"title": contract.title, "files": [u.filename for u in uploads]},
        meta=meta,
    )
    return contract


@transaction.atomic
def document_add(
    *, contract: Contract, actor: Staff, upload: Upload, meta: RequestMeta = SYSTEM
) -> Document:
    _require_draft(contract)
    existing = contract.documents.count()
    size = contract.documents.aggregate(total=Sum("original__size"))["total"] or 0
    (ingested,) = _ingest_all([upload], already=existing, already_bytes=size)
    position = (contract.documents.aggregate(m=Max("position"))["m"] or 0) + 1
    document = _store_document(
        contract=contract, position=position, upload=upload, ingested=ingested
    )
    audit_record(
        event="document.add",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"filename": document.filename, "sha256": document.original.sha256},
        meta=meta,
    )
    _touch(contract)
    return document


@transaction.atomic
def document_remove(*, document: Document, actor: Staff, meta: RequestMeta = SYSTEM) -> None:
    contract = document.contract
    _require_draft(contract)
    if contract.documents.count() <= 1:
        raise ContractError("契約書は1つ以上必要です。", code="last_document")
    filename = document.filename
    document.versions.all().delete()
    document.delete()
    for position, doc in enumerate(contract.documents.order_by("position"), start=1):
        Document.objects.filter(pk=doc.pk).update(position=position + 1000)
    for position, doc in enumerate(contract.documents.order_by("position"), start=1):
        Document.objects.filter(pk=doc.pk).update(position=position)
    audit_record(
        event="document.remove",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"filename": filename},
        meta=meta,
    )
    _touch(contract)


def clean_access_code(code: str) -> str:
    code = code.strip()
    if not 4 <= len(code) <= 32 or not code.isascii() or not code.isprintable():
        raise ContractError(
            "アクセスコードは半角英数字4〜32文字で入力してください。", code="access_code"
        )
    return code


@transaction.atomic
def party_add(
    *,
    contract: Contract,
    actor: Staff,
    kind: str,
    name: str = "",
    email: str = "",
    company: str = "",
    access_code: str = "",
    staff: Staff | None = None,
    role: str = PartyRole.SIGNER,
    parallel: bool = False,
    meta: RequestMeta = SYSTEM,
) -> Party:
    """Append a party to the routing (R6).

    External parties sign and need an access code (R7). Staff sign (contracting authority) or
    approve (事前承認, no signature in the PDF). `parallel` joins the previous party's step.
    """
    _require_draft(contract)
    count = contract.parties.count()
    if count >= settings.KEIYAKU_MAX_PARTIES:
        raise ContractError(
            f"署名者は{settings.KEIYAKU_MAX_PARTIES}名まで設定できます。", code="too_many_parties"
        )
    if role not in PartyRole.values:
        raise ContractError("署名者の役割が不正です。", code="role")
    if kind == PartyKind.STAFF:
        if (
            staff is None
            or staff.organisation_id != contract.organisation_id
            or not staff.is_active
        ):
            raise ContractError("職員を選択してください。", code="staff_required")
        needed = Role.APPROVER if role == PartyRole.APPROVER else Role.SIGNER
        if not staff.has_role(needed):
            raise ContractError(
                f"{staff.label} さんには「{Role(needed).label}」の権限がありません。",
                code="staff_role",
            )
        party = Party(
            kind=kind,
            role=role,
            staff=staff,
            name=staff.label,
            email=staff.email,
            company=contract.organisation.name,
        )
    elif kind == PartyKind.EXTERNAL:
        if role != PartyRole.SIGNER:
            raise ContractError("承認者は職員から選択してください。", code="role")
        if not name.strip() or not email.strip():
            raise ContractError("署名者の氏名とメールアドレスを入力してください。", code="party")
        require_printable(会社名=company, 氏名=name, メールアドレス=email)
        party = Party(
            kind=kind,
            name=name.strip(),
            email=email.strip(),
            company=company.strip(),
            access_code=make_password(clean_access_code(access_code)),
        )
    else:
        raise ContractError("署名者の種別が不正です。", code="kind")
    party.contract = contract
    party.position = (contract.parties.aggregate(m=Max("position"))["m"] or 0) + 1
    party.parallel = parallel and party.position > 1
    party.save()
    restep(contract)
    party.refresh_from_db()
    audit_record(
        event="party.add",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"position": party.position, "name": party.name, "email": party.email},
        meta=meta,
    )
    _touch(contract)
    return party


def _renumber(contract: Contract, ordered: list[Party]) -> None:
    for index, party in enumerate(ordered, start=1):
        Party.objects.filter(pk=party.pk).update(position=index)
    restep(contract)


@transaction.atomic
def party_remove(*, party: Party, actor: Staff, meta: RequestMeta = SYSTEM) -> None:
    contract = party.contract
    _require_draft(contract)
    detail = {"position": party.position, "name": party.name}
    party.delete()
    _renumber(contract, list(contract.parties.order_by("position")))
    audit_record(
        event="party.remove",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail=detail,
        meta=meta,
    )
    _touch(contract)


@transaction.atomic
def party_move(*, party: Party, actor: Staff, offset: int, meta: RequestMeta = SYSTEM) -> None:
    """Move a party earlier (offset -1) or later (+1) in the order (R6)."""
    contract = party.contract
    _require_draft(contract)
    ordered = list(contract.parties.order_by("position"))
    index = next(i for i, p in enumerate(ordered) if p.pk == party.pk)
    target = index + offset
    if not 0 <= target < len(ordered):
        return
    ordered[index], ordered[target] = ordered[target], ordered[index]
    _renumber(contract, ordered)
    audit_record(
        event="party.move",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"name": party.name, "to": target + 1},
        meta=meta,
    )
    _touch(contract)


@transaction.atomic
def party_set_parallel(
    *, party: Party, actor: Staff, parallel: bool, meta: RequestMeta = SYSTEM
) -> None:
    """Join the previous party's step (sign at the same time) or start a step of its own."""
    contract = party.contract
    _require_draft(contract)
    Party.objects.filter(pk=party.pk).update(parallel=parallel and party.position > 1)
    restep(contract)
    audit_record(
        event="party.move",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"name": party.name, "parallel": parallel},
        meta=meta,
    )
    _touch(contract)


def default_deadline(now: datetime) -> datetime:
    """The end (23:59:59 JST) of the day KEIYAKU_DEADLINE_DAYS after `now`."""
    day = now.astimezone(JST).date() + timedelta(days=settings.KEIYAKU_DEADLINE_DAYS)
    return datetime.combine(day, time(23, 59, 59), tzinfo=JST)


def _prepare_documents(contract: Contract, field_names: list[str]) -> dict[int, tuple[int, bytes]]:
    """Print the certificate ID, add one signature field per signer and one field per box:
    every field exists before the first signature (DESIGN.md, signing step 2)."""
    prepared = {}
    for document in contract.documents.all():
        version = document.current_version()
        data = stamp_certificate_id(blob_get(version.blob), contract.certificate_id)
        geometry = page_geometry(data)
        boxes = []
        for box in document.boxes.all():
            crop, rotate = geometry[box.page - 1]
            boxes.append(
                BoxSpec(
                    name=box.field_name,
                    page_index=box.page - 1,
                    rect=displayed_to_user(
                        box.x, box.y, box.width, box.height, crop=crop, rotate=rotate
                    ),
                    kind=box.kind,
                )
            )
        prepared[document.pk] = (
            version.seq,
            engine.prepare(data, field_names=field_names, boxes=boxes),
        )
    return prepared


def contract_send(
    *,
    contract: Contract,
    actor: Staff,
    deadline: datetime | None = None,
    meta: RequestMeta = SYSTEM,
) -> None:
    """Draft → in progress: prepare every document, then ask the first step (R9).

    The PDF work happens before the transaction; the state change is a conditional update, so
    two clicks on 「送信」 send once. `deadline` defaults to KEIYAKU_DEADLINE_DAYS from now.
    """
    _require_draft(contract)
    now = timezone.now()
    deadline = deadline or default_deadline(now)
    if deadline <= now:
        raise ContractError("署名期限には未来の日時を指定してください。", code="deadline")
    parties = list(contract.parties.order_by("position"))
    signers = [p for p in parties if not p.is_approver]
    if not signers:
        raise ContractError("署名者を1名以上設定してください。", code="no_parties")
    if not contract.documents.exists():
        raise ContractError("契約書のPDFを登録してください。", code="no_files")
    prepared = _prepare_documents(contract, [p.signature_field for p in signers])
    blobs = {
        doc_id: (seq, blob_put(keyring=contract.keyring, data=data))
        for doc_id, (seq, data) in prepared.items()
    }
    with transaction.atomic():
        now = timezone.now()
        changed = Contract.objects.filter(pk=contract.pk, status=ContractStatus.DRAFT).update(
            status=ContractStatus.IN_PROGRESS, sent_at=now, last_activity_at=now, deadline=deadline
        )
        if changed != 1:
            raise ContractError("この案件はすでに送信されています。", code="not_draft")
        for doc_id, (seq, blob) in blobs.items():
            DocumentVersion.objects.create(
                document_id=doc_id, seq=seq + 1, kind=VersionKind.PREPARED, blob=blob
            )
        contract.refresh_from_db()
        audit_record(
            event="contract.send",
            organisation=contract.organisation,
            actor=actor,
            subject=contract.audit_subject,
            detail={"parties": len(parties), "deadline": deadline.isoformat()},
            meta=meta,
        )
        advance(contract)
