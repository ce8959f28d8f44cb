"""Drafting and sending a contract (staff side).

Every service checks the actor's right itself (`keiyaku.contracts.permissions`), so a view,
an API view and a job cannot forget it.

Every draft edit locks the contract row first and checks the state on the locked row;
`contract_send` takes the same lock before it changes the state. An edit therefore either
lands before the send's final check, which notices it, or finds the contract sent and is
refused. (On PostgreSQL the lock is `SELECT … FOR UPDATE`; on SQLite every write transaction
starts IMMEDIATE and so runs alone.)
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import ACCESS_CODE_MAX_LENGTH, Organisation, Role, Staff
from keiyaku.ascii_digits import is_ascii_digits
from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.custom_fields import custom_values_clean, custom_values_store
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.filenames import clean_filename
from keiyaku.contracts.mail_table import MailEvent
from keiyaku.contracts.models import (
    Box,
    Contract,
    ContractStatus,
    Document,
    DocumentVersion,
    Party,
    PartyKind,
    PartyRole,
    VersionKind,
)
from keiyaku.contracts.permissions import require_contract_change, require_contract_editor
from keiyaku.contracts.search_index import document_text_index
from keiyaku.contracts.services.addresses import require_signer_email
from keiyaku.contracts.services.confirmation import (
    require_access_codes,
    send_deadline,
    summary_digest,
)
from keiyaku.contracts.services.printable import require_printable
from keiyaku.contracts.services.routing import advance, restep
from keiyaku.contracts.services.term import term_check
from keiyaku.contracts.states import CONTRACT_EDITABLE, contract_is_editable
from keiyaku.refusals import Refusal
from keiyaku.signing.ingest import IngestChange, Ingested, RefusedUpload, ingest_pdf
from keiyaku.signing.sending import PlacedBox, prepare_for_sending
from keiyaku.storage.blobs import blob_discard, blob_get, blob_put, keyring_create
from keiyaku.storage.models import Blob, KeyRing
from keiyaku.text_input import require_single_line, require_text
from keiyaku.webhooks.models import WebhookEvent
from keiyaku.webhooks.services import webhook_emit

# The largest amount a contract records (yen): far above any real contract, far below what
# the database column holds, so that a mistyped number is refused rather than a 500.
MAX_AMOUNT = 10**15 - 1


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the user gave it and its content.

    ``data`` is the bytes, or the path of a file holding them: Django writes an upload larger
    than FILE_UPLOAD_MAX_MEMORY_SIZE to disk, and it is passed on as a path so that its count
    and size are checked, and ingest opens it, without reading it into memory (issue 10,
    finding 4).
    """

    filename: str
    data: bytes | Path

    @property
    def size(self) -> int:
        """Bytes, without reading the file."""
        return len(self.data) if isinstance(self.data, bytes) else self.data.stat().st_size

    def read(self) -> bytes:
        return self.data if isinstance(self.data, bytes) else self.data.read_bytes()


logger = logging.getLogger(__name__)


def _touch(contract: Contract) -> None:
    Contract.objects.filter(pk=contract.pk).update(last_activity_at=timezone.now())


def _not_draft() -> ContractError:
    return ContractError(_("送信済みの案件は変更できません。"), code="not_draft")


def _lock_draft(contract_id: Any) -> Contract:
    """The contract row, locked until the transaction ends; refused unless still editable.

    The state is read after the lock: the object a caller holds may be older than a send.
    """
    contract = Contract.objects.select_for_update().get(pk=contract_id)
    if not contract_is_editable(contract):
        raise _not_draft()
    return contract


def _lock_party(party: Party) -> tuple[Contract, Party | None]:
    """Lock the party's draft (`_lock_draft`) and read the party again under the lock: None
    when a concurrent edit removed it."""
    contract = _lock_draft(party.contract_id)
    return contract, Party.objects.filter(pk=party.pk, contract=contract).first()


def _check_counts(uploads: Sequence[Upload], *, already: int, already_bytes: int) -> None:
    """The number of files and their total size, from the sizes alone (nothing is read)."""
    if already + len(uploads) > settings.KEIYAKU_MAX_FILES:
        raise ContractError(
            _("1つの案件に登録できるファイルは%(count)s件までです。")
            % {"count": settings.KEIYAKU_MAX_FILES},
            code="too_many_files",
        )
    total = already_bytes + sum(u.size for u in uploads)
    if total > settings.KEIYAKU_MAX_CONTRACT_BYTES:
        limit = settings.KEIYAKU_MAX_CONTRACT_BYTES // (1024 * 1024)
        raise ContractError(
            _("1つの案件のファイルの合計は%(limit)sMBまでです。") % {"limit": limit},
            code="contract_too_large",
        )


@dataclass(frozen=True)
class _Stored:
    """An accepted upload, stored (its blobs exist) but not yet part of any contract."""

    filename: str
    original: Blob
    normalised: Blob
    page_count: int
    page_sizes: tuple[tuple[float, float], ...]
    changes: tuple[IngestChange, ...]
    text: str = ""


def _ingest_all(
    uploads: Sequence[Upload], *, keyring: KeyRing, keep_links: bool, organisation_id: int
) -> list[_Stored]:
    """Ingest and store every upload, one after the other; all are accepted or none is kept.

    Runs outside any transaction (ingest takes seconds and holds no lock); each file's blobs
    are written as soon as it is accepted, so only one file's rewrite is in memory at a time.
    A refusal discards the blobs already written.
    """
    stored: list[_Stored] = []
    try:
        for upload in uploads:
            try:
                ingested = ingest_pdf(
                    upload.data,
                    max_bytes=settings.KEIYAKU_MAX_FILE_BYTES,
                    keep_links=keep_links,
                    reuse_within=f"organisation:{organisation_id}",
                )
            except RefusedUpload as exc:
                raise ContractError(f"{upload.filename}: {exc.message}", code=exc.code) from exc
            stored.append(_store(upload, ingested, keyring=keyring))
    except BaseException:
        _discard(stored)
        raise
    return stored


def _store(upload: Upload, ingested: Ingested, *, keyring: KeyRing) -> _Stored:
    original = blob_put(keyring=keyring, data=upload.data)  # a path is read in chunks
    try:
        normalised = blob_put(keyring=keyring, data=ingested.normalised)
    except BaseException:
        blob_discard(original)
        raise
    return _Stored(
        filename=upload.filename,
        original=original,
        normalised=normalised,
        page_count=ingested.page_count,
        page_sizes=ingested.page_sizes,
        changes=ingested.changes,
        text=ingested.text,
    )


def _discard(stored: Sequence[_Stored]) -> None:
    for item in stored:
        blob_discard(item.original)
        blob_discard(item.normalised)


def _store_document(*, contract: Contract, position: int, stored: _Stored) -> Document:
    document = Document.objects.create(
        contract=contract,
        position=position,
        filename=clean_filename(stored.filename) or f"document-{position}.pdf",
        original=stored.original,
        page_count=stored.page_count,
        page_sizes=[list(size) for size in stored.page_sizes],
        ingest_changes=[str(change) for change in stored.changes],
    )
    DocumentVersion.objects.create(
        document=document, seq=1, kind=VersionKind.NORMALISED, blob=stored.normalised
    )
    document_text_index(document, stored.text)
    return document


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
    notice_deadline: date | None = None,
    note: str = "",
    allow_forwarding: bool = True,
    custom_values: Mapping[int, str] | None = None,
    meta: RequestMeta = SYSTEM,
) -> Contract:
    """Create a draft with its documents. Refused uploads leave nothing behind.

    ``custom_values`` maps the organisation's custom field ids to the values as typed
    (`custom_fields.custom_values_clean` parses them: a required one missing, a value of the
    wrong kind or another organisation's field is refused before anything is stored).

    Only a sender or an admin creates contracts (`require_contract_editor`). The number and
    total size of the files are checked from their sizes first; then every file is ingested
    and stored before the transaction, which only creates the rows: ingest (seconds for a
    large file) never holds the database's write lock (issue 10, finding 4). Blobs of a
    create that fails are discarded. The period, automatic renewal and notice deadline are
    checked by `term.term_check` (R31).
    """
    require_contract_editor(actor)
    if not title.strip():
        raise ContractError(_("案件名を入力してください。"), code="title_required")
    term_check(
        period_start=period_start,
        period_end=period_end,
        auto_renew=auto_renew,
        notice_deadline=notice_deadline,
    )
    if amount is not None and amount < 0:
        raise ContractError(_("取引金額は0以上で入力してください。"), code="amount")
    if amount is not None and amount > MAX_AMOUNT:
        raise ContractError(_("取引金額が大きすぎます。"), code="amount_too_large", field="amount")
    require_single_line(
        title=("案件名", title),
        management_number=("管理番号", management_number),
        counterparty_company=("相手方（会社名）", counterparty_company),
    )
    require_text(note=("備考", note))
    if not uploads:
        raise ContractError(_("契約書のPDFを1つ以上選択してください。"), code="no_files")
    require_printable(案件名=title, 管理番号=management_number)
    if actor.organisation is None:
        raise ContractError(
            _("組織に所属する職員だけが案件を作成できます。"), code="no_organisation"
        )
    _check_counts(uploads, already=0, already_bytes=0)
    custom = custom_values_clean(actor.organisation.pk, custom_values or {})
    keyring = keyring_create()
    try:
        stored = _ingest_all(
            uploads,
            keyring=keyring,
            keep_links=actor.organisation.keep_pdf_links,
            organisation_id=actor.organisation.pk,
        )
    except BaseException:
        keyring.delete()
        raise
    try:
        with transaction.atomic():
            contract = _contract_rows(
                actor=actor,
                keyring=keyring,
                stored=stored,
                title=title,
                management_number=management_number,
                counterparty_company=counterparty_company,
                amount=amount,
                contract_date=contract_date,
                period_start=period_start,
                period_end=period_end,
                auto_renew=auto_renew,
                notice_deadline=notice_deadline,
                note=note,
                allow_forwarding=allow_forwarding,
                meta=meta,
            )
            custom_values_store(contract, custom)
    except BaseException:
        _discard(stored)
        keyring.delete()
        raise
    return contract


def _contract_rows(
    *,
    actor: Staff,
    keyring: KeyRing,
    stored: Sequence[_Stored],
    title: str,
    management_number: str,
    counterparty_company: str,
    amount: int | None,
    contract_date: date | None,
    period_start: date | None,
    period_end: date | None,
    auto_renew: bool,
    notice_deadline: date | None,
    note: str,
    allow_forwarding: bool,
    meta: RequestMeta,
) -> Contract:
    """The rows of `contract_create`: the contract, its documents and the audit entry."""
    assert actor.organisation is not None
    now = timezone.now()
    contract = Contract.objects.create(
        organisation=actor.organisation,
        created_by=actor,
        department=actor.department,
        keyring=keyring,
        title=title.strip(),
        management_number=management_number.strip(),
        counterparty_company=counterparty_company.strip(),
        amount=amount,
        contract_date=contract_date,
        period_start=period_start,
        period_end=period_end,
        auto_renew=auto_renew,
        notice_deadline=notice_deadline,
        note=note,
        allow_forwarding=allow_forwarding,
        certificate_id=secrets.token_hex(10).upper(),
        last_activity_at=now,
    )
    for position, item in enumerate(stored, start=1):
        _store_document(contract=contract, position=position, stored=item)
    audit_record(
        event="contract.create",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={
            "title": contract.title,
            "files": [item.filename for item in stored],
            "ingest_changes": {
                item.filename: [str(c) for c in item.changes] for item in stored if item.changes
            },
        },
        meta=meta,
    )
    return contract


def _contract_files(contract: Contract) -> tuple[int, int]:
    """How many documents a contract has and their total size as uploaded (bytes)."""
    count = contract.documents.count()
    size = contract.documents.aggregate(total=Sum("original__size"))["total"] or 0
    return count, size


def document_add(
    *, contract: Contract, actor: Staff, upload: Upload, meta: RequestMeta = SYSTEM
) -> Document:
    """Add a file to a draft. It is ingested and stored before the transaction (no lock held
    meanwhile); the transaction locks the draft and checks again that it is editable and that
    the file still fits the count and size limits, else the stored blobs are discarded."""
    require_contract_change(actor, contract)
    current = Contract.objects.select_related("keyring").get(pk=contract.pk)
    if not contract_is_editable(current):
        raise _not_draft()
    existing, size = _contract_files(current)
    _check_counts([upload], already=existing, already_bytes=size)
    (stored,) = _ingest_all(
        [upload],
        keyring=current.keyring,
        keep_links=current.organisation.keep_pdf_links,
        organisation_id=current.organisation_id,
    )
    try:
        with transaction.atomic():
            contract = _lock_draft(contract.pk)
            existing, size = _contract_files(contract)
            _check_counts([upload], already=existing, already_bytes=size)
            position = (contract.documents.aggregate(m=Max("position"))["m"] or 0) + 1
            document = _store_document(contract=contract, position=position, stored=stored)
            audit_record(
                event="document.add",
                organisation=contract.organisation,
                actor=actor,
                subject=contract.audit_subject,
                detail={
                    "filename": document.filename,
                    "sha256": document.original.sha256,
                    "ingest_changes": document.ingest_changes,
                },
                meta=meta,
            )
            _touch(contract)
    except BaseException:
        _discard([stored])
        raise
    return document


@transaction.atomic
def document_remove(*, document: Document, actor: Staff, meta: RequestMeta = SYSTEM) -> None:
    """Remove a document from a draft and number the rest 1..n; the last one stays."""
    require_contract_change(actor, document.contract)
    contract = _lock_draft(document.contract_id)
    current = Document.objects.filter(pk=document.pk, contract=contract).first()
    if current is None:
        return  # a concurrent request removed it already
    if contract.documents.count() <= 1:
        raise ContractError(_("契約書は1つ以上必要です。"), code="last_document")
    filename = current.filename
    current.versions.all().delete()
    current.delete()
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


def clean_access_code(code: str, *, organisation: Organisation) -> str:
    """The access code without surrounding blanks; refused unless printable ASCII, from the
    organisation's minimum length (4 unless it asks for more) to 32 characters (R18)."""
    code = code.strip()
    shortest = organisation.access_code_min_length
    if (
        not shortest <= len(code) <= ACCESS_CODE_MAX_LENGTH
        or not code.isascii()
        or not code.isprintable()
    ):
        raise ContractError(
            _("アクセスコードは半角英数字%(min)s〜%(max)s文字で入力してください。")
            % {"min": shortest, "max": ACCESS_CODE_MAX_LENGTH},
            code="access_code",
            field="access_code",
        )
    return code


def access_code_fields(code: str, *, organisation: Organisation) -> dict[str, object]:
    """The party fields that store access code ``code`` (checked by `clean_access_code`): its
    hash, and whether it is digits only (the code page then asks a phone for a numeric keypad).
    Every place that sets a code (adding a party, unlocking with a new code, a duplicated
    draft's code) stores it through here, so the two never disagree."""
    code = clean_access_code(code, organisation=organisation)
    return {"access_code": make_password(code), "access_code_digits": is_ascii_digits(code)}


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
    require_contract_change(actor, contract)
    return _party_append(
        _lock_draft(contract.pk),
        actor=actor,
        kind=kind,
        name=name,
        email=email,
        company=company,
        access_code=access_code,
        staff=staff,
        role=role,
        parallel=parallel,
        meta=meta,
    )


@transaction.atomic
def party_add_from_application(
    *,
    contract: Contract,
    actor: Staff,
    company: str,
    name: str,
    email: str,
    access_code: str,
    meta: RequestMeta = SYSTEM,
) -> Party:
    """Append the company that answered an application (R14) as an external signer.

    The company acts for itself, so no staff right is checked here: the sender's was checked
    when the application was sent (`application_send`). `actor` is that sender, in whose name
    the party is recorded, even if their role has changed since. The draft is locked and
    checked as in `party_add`.
    """
    return _party_append(
        _lock_draft(contract.pk),
        actor=actor,
        kind=PartyKind.EXTERNAL,
        name=name,
        email=email,
        company=company,
        access_code=access_code,
        staff=None,
        role=PartyRole.SIGNER,
        parallel=False,
        meta=meta,
    )


def _party_append(
    contract: Contract,
    *,
    actor: Staff,
    kind: str,
    name: str,
    email: str,
    company: str,
    access_code: str,
    staff: Staff | None,
    role: str,
    parallel: bool,
    meta: RequestMeta,
) -> Party:
    """The party of `party_add` on a draft already locked by the caller."""
    count = contract.parties.count()
    if count >= settings.KEIYAKU_MAX_PARTIES:
        raise ContractError(
            _("署名者は%(count)s名まで設定できます。") % {"count": settings.KEIYAKU_MAX_PARTIES},
            code="too_many_parties",
        )
    if role not in PartyRole.values:
        raise ContractError(_("署名者の役割が不正です。"), code="role")
    if kind == PartyKind.STAFF:
        if (
            staff is None
            or staff.organisation_id != contract.organisation_id
            or not staff.is_active
        ):
            raise ContractError(_("職員を選択してください。"), code="staff_required")
        needed = Role.APPROVER if role == PartyRole.APPROVER else Role.SIGNER
        if not staff.has_role(needed):
            raise ContractError(
                _("%(name)s さんには「%(role)s」の権限がありません。")
                % {"name": staff.label, "role": Role(needed).label},
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
            raise ContractError(_("承認者は職員から選択してください。"), code="role")
        if not name.strip() or not email.strip():
            raise ContractError(_("署名者の氏名とメールアドレスを入力してください。"), code="party")
        require_single_line(
            company=("会社名", company), name=("氏名", name), email=("メールアドレス", email)
        )
        require_printable(会社名=company, 氏名=name, メールアドレス=email)
        email = require_signer_email(email)
        party = Party(
            kind=kind,
            name=name.strip(),
            email=email.strip(),
            company=company.strip(),
            **access_code_fields(access_code, organisation=contract.organisation),
        )
    else:
        raise ContractError(_("署名者の種別が不正です。"), code="kind")
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
    """Remove a party (and the boxes it was to fill) from a draft; the rest close up."""
    require_contract_change(actor, party.contract)
    contract, current = _lock_party(party)
    if current is None:
        return  # a concurrent request removed it already
    detail = {"position": current.position, "name": current.name}
    current.delete()
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
    require_contract_change(actor, party.contract)
    contract, current = _lock_party(party)
    if current is None:
        return
    ordered = list(contract.parties.order_by("position"))
    index = next(i for i, p in enumerate(ordered) if p.pk == current.pk)
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
        detail={"name": current.name, "to": target + 1},
        meta=meta,
    )
    _touch(contract)


@transaction.atomic
def party_set_parallel(
    *, party: Party, actor: Staff, parallel: bool, meta: RequestMeta = SYSTEM
) -> None:
    """Join the previous party's step (sign at the same time) or start a step of its own."""
    require_contract_change(actor, party.contract)
    contract, current = _lock_party(party)
    if current is None:
        return
    Party.objects.filter(pk=current.pk).update(parallel=parallel and current.position > 1)
    restep(contract)
    audit_record(
        event="party.move",
        organisation=contract.organisation,
        actor=actor,
        subject=contract.audit_subject,
        detail={"name": current.name, "parallel": parallel},
        meta=meta,
    )
    _touch(contract)


@dataclass(frozen=True)
class _Source:
    """What a send prepares: the routing and, per document, the version and the boxes."""

    parties: list[Party]
    documents: list[tuple[Document, DocumentVersion, list[Box]]]

    @classmethod
    def read(cls, contract: Contract) -> _Source:
        return cls(
            parties=list(contract.parties.order_by("position", "pk")),
            documents=[
                (document, document.current_version(), list(document.boxes.all()))
                for document in contract.documents.order_by("position", "pk")
            ],
        )

    def fingerprint(self) -> tuple[object, ...]:
        """Everything the prepared PDFs depend on: each party's field name and role (its
        position), the routing, each document's version and each box's field, place and
        party. Equal fingerprints mean the prepared PDFs still fit the contract."""
        return (
            tuple((p.pk, p.position, p.step, p.role) for p in self.parties),
            tuple(
                (
                    document.pk,
                    document.position,
                    version.pk,
                    tuple(
                        sorted(
                            (b.pk, b.party_id, b.page, b.x, b.y, b.width, b.height, b.kind)
                            for b in boxes
                        )
                    ),
                )
                for document, version, boxes in self.documents
            ),
        )


def _prepare_documents(contract: Contract, source: _Source) -> dict[int, tuple[int, bytes]]:
    """Print the certificate ID, add one signature field per signer and one field per box:
    every field exists before the first signature (DESIGN.md, signing step 2). The PDF work
    runs in a budgeted child (`signing.sending`): this process holds a document's stored
    version while the child works and the prepared PDF after (issue 12, acceptance 5).

    Returns, per document id, the seq of the version prepared and the prepared PDF.
    """
    field_names = [p.signature_field for p in source.parties if not p.is_approver]
    prepared = {}
    for document, version, document_boxes in source.documents:
        boxes = [
            PlacedBox(
                name=box.field_name,
                page=box.page,
                x=box.x,
                y=box.y,
                width=box.width,
                height=box.height,
                kind=box.kind,
            )
            for box in document_boxes
        ]
        prepared[document.pk] = (
            version.seq,
            prepare_for_sending(
                blob_get(version.blob),
                certificate_id=contract.certificate_id,
                field_names=field_names,
                boxes=boxes,
            ),
        )
    return prepared


def contract_send(
    *,
    contract: Contract,
    actor: Staff,
    deadline: datetime | None = None,
    confirmed: str | None = None,
    meta: RequestMeta = SYSTEM,
) -> None:
    """Draft → in progress: prepare every document, then ask the first step (R9).

    The PDF work (slow) happens before the transaction, from the parties, documents and
    boxes read then. The transaction locks the contract, reads them again and refuses with
    `changed_while_sending` when an edit landed meanwhile, so every party and every box of a
    sent contract has its field in the prepared PDFs; the PDFs are stored only after that
    check. A second 「送信」 finds the contract sent (`not_draft`). `deadline` defaults to
    KEIYAKU_DEADLINE_DAYS from now; one given must lie within MAX_DEADLINE_DAYS.

    `confirmed` is the digest of the confirmation the sender saw (`send_summary`, issue 14):
    refused with ``summary_changed`` when the draft or the deadline no longer matches it, and
    a send repeated with the digest of the send that went out (a double submit) does nothing.
    """
    require_contract_change(actor, contract)
    current = Contract.objects.get(pk=contract.pk)
    if confirmed is not None and _sent_as(current, confirmed):
        return
    if not contract_is_editable(current):
        raise _not_draft()
    deadline = send_deadline(deadline, timezone.now())
    if confirmed is not None and summary_digest(current, deadline) != confirmed:
        raise _summary_changed()
    source = _Source.read(current)
    if not any(not p.is_approver for p in source.parties):
        raise ContractError(_("署名者を1名以上設定してください。"), code="no_parties")
    require_access_codes(source.parties)
    if not source.documents:
        raise ContractError(_("契約書のPDFを登録してください。"), code="no_files")
    try:
        prepared = _prepare_documents(current, source)
    except Refusal:
        raise
    except Exception as exc:
        # A box off its page, a font lacking a glyph, a file the PDF libraries reject: the
        # engine raises many types; the sender gets one clear refusal, never a server error.
        logger.warning(
            "contract %s: preparing the documents failed: %s: %s",
            contract.pk,
            type(exc).__name__,
            exc,
            exc_info=True,
        )
        raise ContractError(
            _(
                "書類を送信用に準備できませんでした。"
                "入力欄がすべてページの内側にあるか確認してください。"
            ),
            code="prepare_failed",
        ) from exc
    # Sealed and written before the transaction too: encrypting and writing megabytes is no
    # work to do while holding the database's write lock. A refused send discards them.
    blobs: dict[int, tuple[int, Blob]] = {}
    try:
        for doc_id, (seq, data) in prepared.items():
            blobs[doc_id] = (seq, blob_put(keyring=current.keyring, data=data))
        del prepared
        _send_rows(
            contract=contract,
            actor=actor,
            source=source,
            blobs=blobs,
            deadline=deadline,
            confirmed=confirmed,
            meta=meta,
        )
    except _AlreadySent:
        for _seq, blob in blobs.values():
            blob_discard(blob)  # the same confirmed send won the race: it went out once
    except BaseException:
        for _seq, blob in blobs.values():
            blob_discard(blob)
        raise


class _AlreadySent(Exception):
    """The send confirmed with this digest went out meanwhile (a double submit)."""


def _sent_as(contract: Contract, confirmed: str) -> bool:
    """Whether `contract` was sent after the confirmation with digest `confirmed`."""
    return (
        not contract_is_editable(contract)
        and Event.objects.filter(
            subject=contract.audit_subject, event="contract.send", detail__confirmed=confirmed
        ).exists()
    )


def _summary_changed() -> ContractError:
    return ContractError(
        _(
            "確認した後に書類、署名者、入力欄または署名期限が変更されました。"
            "もう一度内容を確認してから送信してください。"
        ),
        code="summary_changed",
    )


@transaction.atomic
def _send_rows(
    *,
    contract: Contract,
    actor: Staff,
    source: _Source,
    blobs: dict[int, tuple[int, Blob]],
    deadline: datetime,
    confirmed: str | None,
    meta: RequestMeta,
) -> None:
    """The transaction of `contract_send`: lock, check nothing changed, record, advance."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if confirmed is not None and _sent_as(locked, confirmed):
        raise _AlreadySent
    if not contract_is_editable(locked):
        raise ContractError(_("この案件はすでに送信されています。"), code="not_draft")
    if confirmed is not None and summary_digest(locked, deadline) != confirmed:
        raise _summary_changed()
    if _Source.read(locked).fingerprint() != source.fingerprint():
        raise ContractError(
            _("送信の準備中に書類、署名者または入力欄が変更されました。もう一度送信してください。"),
            code="changed_while_sending",
        )
    now = timezone.now()
    changed = Contract.objects.filter(pk=contract.pk, status__in=CONTRACT_EDITABLE).update(
        status=ContractStatus.IN_PROGRESS, sent_at=now, last_activity_at=now, deadline=deadline
    )
    if changed != 1:
        raise ContractError(_("この案件はすでに送信されています。"), code="not_draft")
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
        detail={
            "parties": len(source.parties),
            "deadline": deadline.isoformat(),
            **({"confirmed": confirmed} if confirmed is not None else {}),
        },
        meta=meta,
    )
    webhook_emit(contract=contract, event=WebhookEvent.SENT)
    advance(contract, event=MailEvent.SENT)
