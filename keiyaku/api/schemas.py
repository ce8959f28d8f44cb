"""What the API reads and writes: JSON in snake_case, times in ISO 8601 with +09:00 (JST).

Every output schema lists its fields one by one: nothing reaches a response because a model
has it. A party's access code (its hash) and its links' tokens are in no schema (issue 16: the
API never exposes a party's signing link).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from django.utils import timezone
from ninja import Field, Schema
from pydantic import PlainSerializer, WithJsonSchema

JstDateTime = Annotated[
    dt.datetime,
    PlainSerializer(lambda moment: timezone.localtime(moment).isoformat(), return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "example": "2026-04-01T10:00:00+09:00"}
    ),
]
"""A moment, written in JST with its offset (``2026-04-01T10:00:00+09:00``)."""


class Error(Schema):
    """Every error: a stable code, a message (Japanese, or English per Accept-Language) and
    the field at fault, if any."""

    code: str = Field(examples=["not_draft"])
    message: str
    field: str | None = None


class Ref(Schema):
    id: int
    name: str


class Progress(Schema):
    signed: int = Field(description="parties done (signed or approved)")
    total: int = Field(description="parties asked or to be asked")


class Holder(Schema):
    company: str
    name: str


class ContractSummary(Schema):
    """A row of the contract list."""

    id: uuid.UUID
    title: str
    management_number: str
    counterparty_company: str
    status: str
    imported: bool
    last_activity_at: JstDateTime
    progress: Progress
    holders: list[Holder] = Field(description="the parties whose turn it is")


class ContractPage(Schema):
    """One page of contracts. ``next_cursor``/``previous_cursor`` go into ``after``/``before``
    of the next call with the same conditions; null where there is no such page."""

    items: list[ContractSummary]
    next_cursor: str | None
    previous_cursor: str | None


class CustomValueOut(Schema):
    field_id: int
    label: str
    value: str


class DocumentOut(Schema):
    id: int
    position: int
    filename: str
    page_count: int
    size: int = Field(description="bytes of the file as uploaded")
    sha256: str = Field(description="SHA-256 of the file as uploaded")
    current_kind: str = Field(
        description="the current version: normalised, prepared, signed, completed, renewed, imported"
    )
    current_sha256: str


class PartyOut(Schema):
    """A party of the routing. Never its access code nor its links."""

    id: int
    position: int
    step: int
    parallel: bool
    kind: str = Field(description="external or staff")
    role: str = Field(description="signer or approver")
    status: str
    company: str
    name: str
    email: str
    staff_id: int | None
    locked: bool = Field(description="locked after too many wrong access codes")
    notified_at: JstDateTime | None
    agreed_at: JstDateTime | None
    signed_at: JstDateTime | None


class ContractOut(Schema):
    id: uuid.UUID
    title: str
    status: str
    management_number: str
    counterparty_company: str
    amount: int | None
    contract_date: dt.date | None
    period_start: dt.date | None
    period_end: dt.date | None
    auto_renew: bool
    notice_deadline: dt.date | None
    note: str
    allow_forwarding: bool
    department: Ref | None
    created_by: Ref | None
    certificate_id: str
    created_at: JstDateTime
    sent_at: JstDateTime | None
    deadline: JstDateTime | None
    completed_at: JstDateTime | None
    last_activity_at: JstDateTime
    progress: Progress
    custom_fields: list[CustomValueOut]
    documents: list[DocumentOut]
    parties: list[PartyOut]


class ContractIn(Schema):
    """A new draft's details (the documents come as files or ``documents``)."""

    title: str = Field(max_length=300)
    management_number: str = Field("", max_length=100)
    counterparty_company: str = Field("", max_length=200)
    amount: int | None = Field(None, ge=0, description="yen")
    contract_date: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    auto_renew: bool = False
    notice_deadline: dt.date | None = None
    note: str = Field("", max_length=10000)
    allow_forwarding: bool = True
    custom_fields: dict[str, str] = Field(
        default_factory=dict, description="custom field id → value as text"
    )


class DocumentIn(Schema):
    """A small file in a JSON body: its name and its bytes in base64."""

    filename: str = Field(max_length=255)
    content_base64: str


class ContractCreateJson(ContractIn):
    documents: list[DocumentIn] = Field(min_length=1)


class ContractPatch(Schema):
    """The details to change on a draft; absent ones keep their values."""

    title: str | None = Field(None, max_length=300)
    management_number: str | None = Field(None, max_length=100)
    counterparty_company: str | None = Field(None, max_length=200)
    amount: int | None = Field(None, ge=0)
    contract_date: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    auto_renew: bool | None = None
    notice_deadline: dt.date | None = None
    note: str | None = Field(None, max_length=10000)
    allow_forwarding: bool | None = None
    custom_fields: dict[str, str] | None = None


class SendIn(Schema):
    deadline: dt.date | None = Field(
        None, description="the last day to sign (until 23:59:59 JST); the default when absent"
    )


class CancelIn(Schema):
    reason: str = Field(max_length=2000)


class DuplicateIn(Schema):
    as_renewal: bool = False


class PartyIn(Schema):
    """A party appended to a draft's routing: an external signer (company, name, email,
    access_code) or a staff member (staff_id) who signs or approves."""

    kind: str = Field(description="external or staff")
    role: str = Field("signer", description="signer or approver (approver: staff only)")
    company: str = Field("", max_length=200)
    name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    access_code: str = Field("", max_length=32, description="external parties: 4 to 32 characters")
    staff_id: int | None = None
    parallel: bool = Field(False, description="asked together with the party before")


class PartyPatch(Schema):
    parallel: bool | None = None
    move: int | None = Field(None, ge=-1, le=1, description="-1 earlier, +1 later")


class RemindOut(Schema):
    reminded: int


class AuditEntryOut(Schema):
    id: int
    event: str
    label: str
    actor: str
    created_at: JstDateTime
    detail: dict[str, object]
    ip: str | None


class AuditPage(Schema):
    items: list[AuditEntryOut]
    next_cursor: str | None


BoxKindName = Literal["text", "multiline", "date", "checkbox"]


class BoxIn(Schema):
    """A box placed on a draft's page for one signing party to fill when it agrees (R8).

    Position and size are PDF points (1/72 inch) from the top-left corner of the page as
    displayed (rotation applied); ``GET /contracts/{id}/boxes`` gives each page's size."""

    document: int = Field(description="the document's id")
    party: int = Field(description="the id of the party that fills it (a signer, not an approver)")
    page: int = Field(description="page number, from 1")
    x: float = Field(description="points from the page's left edge")
    y: float = Field(description="points from the page's top edge")
    width: float = Field(description="points, at least 8")
    height: float = Field(description="points, at least 8")
    kind: BoxKindName = "text"
    label: str = Field("", max_length=100, description="what the party is asked (項目名)")
    required: bool = True
    max_length: int | None = Field(None, description="most characters, 1 to 10000; none: any")


class BoxPatch(Schema):
    """A box's fields to change on a draft; absent ones keep their values."""

    party: int | None = None
    page: int | None = None
    x: float | None = None
    y: float | None = None
    width: float | None = None
    height: float | None = None
    kind: BoxKindName | None = None
    label: str | None = Field(None, max_length=100)
    required: bool | None = None
    max_length: int | None = None


class BoxOut(Schema):
    id: int
    document: int
    party: int
    page: int
    x: float
    y: float
    width: float
    height: float
    kind: str = Field(description="text, multiline, date or checkbox")
    label: str
    required: bool
    max_length: int | None
    value: str = Field(description="what the party entered (empty until it agrees)")
    filled_at: JstDateTime | None


class PageOut(Schema):
    document: int
    page: int
    width: float = Field(description="points, as displayed")
    height: float = Field(description="points, as displayed")


class BoxesOut(Schema):
    """A contract's boxes, in page order, and the size of every page to place them on."""

    boxes: list[BoxOut]
    pages: list[PageOut]
