"""Contracts through the API: list (the full search of R28), get, create, update before
sending, duplicate, send, remind, cancel, and a contract's audit entries (R40).

Every endpoint reads through the selectors and writes through the services with the token's
member as the actor: no permission is decided here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from keiyaku.api.common import ERRORS, actor, contract_of, metadata_of, upload_of, uploads_of
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import (
    AuditPage,
    CancelIn,
    ContractCreateJson,
    ContractIn,
    ContractOut,
    ContractPage,
    ContractPatch,
    DuplicateIn,
    RemindOut,
    SendIn,
)
from keiyaku.ascii_digits import is_ascii_digits
from keiyaku.audit.labels import event_label
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.list_page import Cursor, contract_list_page, sort_named
from keiyaku.contracts.models import Contract, ContractStatus, CustomValue
from keiyaku.contracts.search import BadSearch
from keiyaku.contracts.selectors import contract_progress
from keiyaku.contracts.services.details import contract_details_change
from keiyaku.contracts.services.drafting import Upload
from keiyaku.contracts.services.duplicate import contract_duplicate
from keiyaku.contracts.timefmt import JST
from keiyaku.web.forms import ContractSearchForm

router = Router(tags=["contracts"])


def contract_out(contract: Contract) -> dict[str, object]:
    """The contract as `ContractOut`: its details, custom fields, documents and parties."""
    progress = contract_progress(contract)
    values = CustomValue.objects.filter(contract=contract).select_related("field")
    ordered = sorted(values, key=lambda v: (v.field.position, v.field.pk))
    documents = []
    for document in contract.documents.select_related("original").order_by("position"):
        version = document.current_version()
        documents.append(
            {
                "id": document.pk,
                "position": document.position,
                "filename": document.filename,
                "page_count": document.page_count,
                "size": document.original.size,
                "sha256": document.original.sha256,
                "current_kind": version.kind,
                "current_sha256": version.blob.sha256,
            }
        )
    parties = [
        {
            "id": party.pk,
            "position": party.position,
            "step": party.step,
            "parallel": party.parallel,
            "kind": party.kind,
            "role": party.role,
            "status": party.status,
            "company": party.company,
            "name": party.name,
            "email": party.email,
            "staff_id": party.staff_id,
            "locked": party.is_locked,
            "notified_at": party.notified_at,
            "agreed_at": party.agreed_at,
            "signed_at": party.signed_at,
        }
        for party in contract.parties.order_by("position", "pk")
    ]
    department = contract.department
    creator = contract.created_by
    return {
        "id": contract.pk,
        "title": contract.title,
        "status": contract.status,
        "management_number": contract.management_number,
        "counterparty_company": contract.counterparty_company,
        "amount": contract.amount,
        "contract_date": contract.contract_date,
        "period_start": contract.period_start,
        "period_end": contract.period_end,
        "auto_renew": contract.auto_renew,
        "notice_deadline": contract.notice_deadline,
        "note": contract.note,
        "allow_forwarding": contract.allow_forwarding,
        "department": {"id": department.pk, "name": department.name} if department else None,
        "created_by": {"id": creator.pk, "name": creator.label} if creator else None,
        "certificate_id": contract.certificate_id,
        "created_at": contract.created_at,
        "sent_at": contract.sent_at,
        "deadline": contract.deadline,
        "completed_at": contract.completed_at,
        "last_activity_at": contract.last_activity_at,
        "progress": {"signed": progress.signed, "total": progress.total},
        "custom_fields": [
            {"field_id": v.field_id, "label": v.field.label, "value": v.shown} for v in ordered
        ],
        "documents": documents,
        "parties": parties,
    }


class ListQuery(Schema):
    """The search of R28 (every condition optional, all combined) and the page.

    The organisation's custom fields are searched with ``cf_<id>`` (text or choice) and
    ``cf_<id>_min``/``cf_<id>_max`` (numbers, dates), as on the list screen.
    """

    q: str | None = None
    title: str | None = None
    filename: str | None = None
    counterparty: str | None = None
    number: str | None = None
    department: int | None = None
    status: list[ContractStatus] | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    contract_date_from: dt.date | None = None
    contract_date_to: dt.date | None = None
    signed_from: dt.date | None = None
    signed_to: dt.date | None = None
    period_end_from: dt.date | None = None
    period_end_to: dt.date | None = None
    surety_number: str | None = None
    sort: str | None = None
    after: str | None = None
    before: str | None = None
    limit: int = 50


def _search_form(request: HttpRequest) -> ContractSearchForm:
    """The list screen's search form read from the query: one parser for both (R28)."""
    return ContractSearchForm(request.GET, organisation_id=actor(request).organisation_id)


@router.get("", response={200: ContractPage, **ERRORS}, summary="List and search contracts")
def contract_list(request: HttpRequest, query: Query[ListQuery]):  # type: ignore[type-arg]
    """The contracts the token's member sees (R1, R29), newest activity first unless
    ``sort`` says otherwise (``-last_activity_at``, ``title``, ``amount`` …, ``-`` for
    descending), ``limit`` at a time (1-100). Give ``next_cursor`` as ``after`` (or
    ``previous_cursor`` as ``before``) with the same conditions for the next page."""
    if not 1 <= query.limit <= 100:
        raise ContractError(_("limit は1〜100で指定してください。"), code="limit", field="limit")
    form = _search_form(request)
    if not form.is_valid():
        field, messages = next(iter(form.errors.items()))
        raise BadSearch(messages[0], code="invalid", field=None if field == "__all__" else field)
    order = sort_named(query.sort)
    page = contract_list_page(
        actor(request),
        size=query.limit,
        after=Cursor.parse(query.after, order) if query.after else None,
        before=Cursor.parse(query.before, order) if query.before and not query.after else None,
        search=form.conditions(),
        sort=order,
    )
    return {
        "items": [
            {
                "id": row.contract.pk,
                "title": row.contract.title,
                "management_number": row.contract.management_number,
                "counterparty_company": row.contract.counterparty_company,
                "status": row.contract.status,
                "imported": row.contract.is_imported,
                "last_activity_at": row.contract.last_activity_at,
                "progress": {"signed": row.signed, "total": row.total},
                "holders": [{"company": h.company, "name": h.name} for h in row.holders],
            }
            for row in page.rows
        ],
        "next_cursor": page.after.token if page.after else None,
        "previous_cursor": page.before.token if page.before else None,
    }


def _create(request: HttpRequest, details: ContractIn, uploads: list[Upload]) -> Contract:
    """The draft, with its routing and boxes from ``details.template`` when one is named: in
    one transaction, so a template refused (unknown: 404; its slots wrong: 422) leaves no
    contract behind."""
    from keiyaku.api.templates import slot_fills, template_of  # it imports this module

    with transaction.atomic():
        template = template_of(request, details.template.template_id) if details.template else None
        contract = services.contract_create(
            actor=actor(request),
            uploads=uploads,
            allow_forwarding=details.allow_forwarding,
            meta=api_meta(request),
            **contract_details(details),
        )
        if template is not None and details.template is not None:
            services.template_apply(
                contract=contract,
                template=template,
                actor=actor(request),
                fills=slot_fills(details.template),
                meta=api_meta(request),
            )
    return contract


def contract_details(details: Any) -> dict[str, Any]:
    """The details a new contract records (created or imported), from a body that has them
    (`ContractIn`, `ImportIn`), as the services take them."""
    return {
        "title": details.title,
        "management_number": details.management_number,
        "counterparty_company": details.counterparty_company,
        "amount": details.amount,
        "contract_date": details.contract_date,
        "period_start": details.period_start,
        "period_end": details.period_end,
        "auto_renew": details.auto_renew,
        "notice_deadline": details.notice_deadline,
        "note": details.note,
        "custom_values": custom_values_of(details.custom_fields),
    }


def custom_values_of(values: dict[str, str] | None) -> dict[int, str]:
    """A body's ``custom_fields`` (field id as text → value) as the services take them.

    Raises:
        ContractError: an id that is not a number (``custom_unknown``); the services refuse
            an unknown one.
    """
    found = {}
    for key, value in (values or {}).items():
        if not is_ascii_digits(key) or len(key) > 18:
            raise ContractError(
                _("存在しない項目が指定されました。"), code="custom_unknown", field="custom_fields"
            )
        found[int(key)] = value
    return found


@router.post(
    "",
    response={201: ContractOut, **ERRORS},
    summary="Create a draft (JSON, files in base64)",
)
def contract_create(request: HttpRequest, payload: ContractCreateJson):
    """A new draft with its documents as base64 (up to 5 MB each; larger ones through
    ``/contracts/multipart``). Send ``Idempotency-Key`` to make a retry safe."""
    uploads = [upload_of(document) for document in payload.documents]
    return Status(201, contract_out(_create(request, payload, uploads)))


@router.post(
    "/multipart",
    response={201: ContractOut, **ERRORS},
    summary="Create a draft (multipart: metadata and files)",
)
def contract_create_multipart(
    request: HttpRequest,
    metadata: Form[str],  # type: ignore[type-arg]
    files: File[list[UploadedFile]],  # type: ignore[type-arg]
):
    """``metadata``: the draft's details as JSON (the fields of the JSON create, without
    ``documents``); ``files``: one or more PDFs."""
    details = metadata_of(ContractIn, metadata)
    return Status(201, contract_out(_create(request, details, uploads_of(files))))


@router.get("/{contract_id}", response={200: ContractOut, **ERRORS}, summary="Get a contract")
def contract_get(request: HttpRequest, contract_id: uuid.UUID):
    return contract_out(contract_of(request, contract_id))


@router.patch(
    "/{contract_id}", response={200: ContractOut, **ERRORS}, summary="Change a draft's details"
)
def contract_update(request: HttpRequest, contract_id: uuid.UUID, payload: ContractPatch):
    """Only before sending (409 ``not_draft`` after); absent fields keep their values."""
    contract = contract_of(request, contract_id)
    changes = payload.model_dump(exclude_unset=True)
    custom = changes.pop("custom_fields", None)
    changed = contract_details_change(
        contract=contract,
        actor=actor(request),
        changes=changes,
        custom_values=custom_values_of(custom),
        meta=api_meta(request),
    )
    return contract_out(changed)


@router.post(
    "/{contract_id}/duplicate",
    response={201: ContractOut, **ERRORS},
    summary="Duplicate into a new draft",
)
def contract_duplicate_endpoint(request: HttpRequest, contract_id: uuid.UUID, payload: DuplicateIn):
    """A new draft from the contract (any state): documents, parties and boxes, no access
    code (set each external party's with ``/parties/{id}/access-code``)."""
    contract = contract_of(request, contract_id)
    made = contract_duplicate(
        contract=contract,
        actor=actor(request),
        once=(request.headers.get("Idempotency-Key") or "")[:64],
        as_renewal=payload.as_renewal,
        meta=api_meta(request),
    )
    return Status(201, contract_out(made))


@router.post("/{contract_id}/send", response={200: ContractOut, **ERRORS}, summary="Send")
def contract_send(request: HttpRequest, contract_id: uuid.UUID, payload: SendIn):
    """Send the draft to its first step (R9); ``deadline`` the last day to sign."""
    contract = contract_of(request, contract_id)
    deadline = (
        dt.datetime.combine(payload.deadline, dt.time(23, 59, 59), tzinfo=JST)
        if payload.deadline
        else None
    )
    services.contract_send(
        contract=contract, actor=actor(request), deadline=deadline, meta=api_meta(request)
    )
    return contract_out(contract_of(request, contract_id))


@router.post("/{contract_id}/remind", response={200: RemindOut, **ERRORS}, summary="Remind")
def contract_remind(request: HttpRequest, contract_id: uuid.UUID):
    """Remind every party whose turn it is (R11): each gets a fresh link by e-mail."""
    contract = contract_of(request, contract_id)
    count = services.contract_remind(
        contract=contract, actor=actor(request), meta=api_meta(request)
    )
    return {"reminded": count}


@router.post("/{contract_id}/cancel", response={200: ContractOut, **ERRORS}, summary="Cancel")
def contract_cancel(request: HttpRequest, contract_id: uuid.UUID, payload: CancelIn):
    """取消 (R10) before completion, with the reason the parties are told."""
    contract = contract_of(request, contract_id)
    services.contract_cancel(
        contract=contract, actor=actor(request), reason=payload.reason, meta=api_meta(request)
    )
    return contract_out(contract_of(request, contract_id))


@router.get(
    "/{contract_id}/audit",
    response={200: AuditPage, **ERRORS},
    summary="A contract's audit entries",
)
def contract_audit(
    request: HttpRequest, contract_id: uuid.UUID, after: int | None = None, limit: int = 100
):
    """The contract's entries of the audit log (R39), oldest first; ``after`` is the
    ``next_cursor`` of the previous page."""
    contract = contract_of(request, contract_id)
    if not 1 <= limit <= 500:
        raise ContractError(_("limit は1〜500で指定してください。"), code="limit", field="limit")
    entries = Event.objects.filter(
        organisation_id=contract.organisation_id, subject=contract.audit_subject
    ).order_by("id")
    if after is not None:
        entries = entries.filter(id__gt=after)
    found = list(entries[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return {
        "items": [
            {
                "id": entry.pk,
                "event": entry.event,
                "label": str(event_label(entry.event)),
                "actor": entry.actor_label,
                "created_at": entry.created_at,
                "detail": entry.detail,
                "ip": entry.ip,
            }
            for entry in found
        ],
        "next_cursor": str(found[-1].pk) if more and found else None,
    }
