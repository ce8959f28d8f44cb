"""What the API reads and writes: JSON in snake_case, times in ISO 8601 with +09:00 (JST).

Every output schema lists its fields one by one: nothing reaches a response because a model
has it. A party's access code (its hash) and its links' tokens are in no schema (issue 16: the
API never exposes a party's signing link).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

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


def kept(**constraints: Any) -> Any:
    """A PATCH field that may be absent (the value is kept) but never null: it has no empty
    value to clear it to (pydantic does not check a default, so absent reads as None)."""
    return Field(None, **constraints)


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


class SlotIn(Schema):
    """Who takes a counterparty slot of the template, in order."""

    company: str = Field(max_length=200)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    access_code: str = Field(max_length=32)


class TemplateApplyIn(Schema):
    """A template to set a draft's routing and boxes from (R13), and who takes each of its
    counterparty slots, in order."""

    template_id: int
    slots: list[SlotIn] = Field(default_factory=list, max_length=100)


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
    template: TemplateApplyIn | None = Field(
        None,
        description="set the new draft's routing and boxes from this template in the same call "
        "(as POST /contracts/{id}/template; the template's setting of forwarding wins); a "
        "refusal makes no contract",
    )


class DocumentIn(Schema):
    """A small file in a JSON body: its name and its bytes in base64."""

    filename: str = Field(max_length=255)
    content_base64: str


class ContractCreateJson(ContractIn):
    documents: list[DocumentIn] = Field(min_length=1)


class ContractPatch(Schema):
    """The details to change on a draft; absent ones keep their values. Only the dates, the
    amount and the custom fields may be null (cleared); null for another field is a 422."""

    title: str = kept(max_length=300)
    management_number: str = kept(max_length=100)
    counterparty_company: str = kept(max_length=200)
    amount: int | None = Field(None, ge=0)
    contract_date: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    auto_renew: bool = kept()
    notice_deadline: dt.date | None = None
    note: str = kept(max_length=10000)
    allow_forwarding: bool = kept()
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
    parallel: bool = kept()
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
    """A box's fields to change on a draft; absent ones keep their values. Only
    ``max_length`` may be null (any length); null for another field is a 422."""

    party: int = kept()
    page: int = kept()
    x: float = kept()
    y: float = kept()
    width: float = kept()
    height: float = kept()
    kind: BoxKindName = kept()
    label: str = kept(max_length=100)
    required: bool = kept()
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


# --- import (R30) -------------------------------------------------------------------------


class ImportIn(Schema):
    """A contract concluded elsewhere: the details a new contract records, and the department
    it belongs to (default: the token's member's own; a sender imports only into their own)."""

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
    department_id: int | None = None
    custom_fields: dict[str, str] = Field(
        default_factory=dict, description="custom field id → value as text"
    )


# --- sureties and attachments (R32) ---------------------------------------------------------


class AttachmentOut(Schema):
    """A PDF kept with a contract apart from its documents: never signed, never sent."""

    id: int
    filename: str
    size: int = Field(description="bytes")
    sha256: str
    added_at: JstDateTime


class AttachmentPage(Schema):
    items: list[AttachmentOut]
    next_cursor: str | None


class ReasonIn(Schema):
    """Why a surety or an attachment is corrected or removed (電子帳簿保存法's 訂正削除の履歴)."""

    reason: str = Field(max_length=1000)


class SuretyKindName(StrEnum):
    advance_payment = "advance_payment"
    performance = "performance"
    other = "other"


class SuretyOut(Schema):
    """An electronic surety (電子保証). ``auth_key`` is the 認証キー, as the contract's page shows
    it to everyone who may read the contract."""

    id: int
    kind: SuretyKindName
    issuer: str
    number: str = Field(description="保証契約番号")
    auth_key: str = Field(description="認証キー (empty: none)")
    amount: int | None = Field(description="yen")
    period_start: dt.date | None
    period_end: dt.date | None
    notice: AttachmentOut | None = Field(description="「認証キーのお知らせ」, while current")
    corrections: int = Field(description="how many times it was corrected")
    added_at: JstDateTime


class SuretyPage(Schema):
    items: list[SuretyOut]
    next_cursor: str | None


class SuretyIn(Schema):
    kind: SuretyKindName
    issuer: str = Field(max_length=200)
    number: str = Field(max_length=100, description="保証契約番号")
    auth_key: str = Field("", max_length=200, description="認証キー")
    amount: int | None = Field(None, ge=0, description="yen")
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    notice: DocumentIn | None = Field(None, description="「認証キーのお知らせ」 PDF, base64")


class SuretyPatch(Schema):
    """The corrected values (absent ones keep theirs; an empty ``auth_key`` removes it), the
    reason, and optionally how many corrections the client saw (``corrections``): if another
    came first, 409 ``stale``."""

    kind: SuretyKindName = kept()
    issuer: str = kept(max_length=200)
    number: str = kept(max_length=100)
    auth_key: str = kept(max_length=200)
    amount: int | None = Field(None, ge=0)
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    notice: DocumentIn | None = None
    reason: str = Field(max_length=1000)
    corrections_seen: int | None = Field(None, ge=0)


# --- address book -------------------------------------------------------------------------


class ContactOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    title: str = Field(description="部署・役職")


class CompanyOut(Schema):
    id: int
    name: str
    kana: str
    note: str
    department: Ref | None = Field(description="null: shared with the whole organisation")
    contacts: list[ContactOut]


class CompanyPage(Schema):
    items: list[CompanyOut]
    next_cursor: str | None


class CompanyIn(Schema):
    name: str = Field(max_length=200)
    kana: str = Field("", max_length=200)
    note: str = Field("", max_length=10000)
    department_id: int | None = Field(
        None, description="private to this department; absent: shared with the organisation"
    )


class CompanyPatch(Schema):
    name: str = kept(max_length=200)
    kana: str = kept(max_length=200)
    note: str = kept(max_length=10000)


class ContactIn(Schema):
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    phone: str = Field("", max_length=50)
    title: str = Field("", max_length=200)


class ContactPatch(Schema):
    name: str = kept(max_length=200)
    email: str = kept(max_length=254)
    phone: str = kept(max_length=50)
    title: str = kept(max_length=200)


# --- templates (R13) ----------------------------------------------------------------------


class TemplateStepOut(Schema):
    kind: str = Field(description="external or staff")
    role: str = Field(description="signer or approver")
    parallel: bool
    label: str = Field(description="事業者1… for a counterparty slot, the staff member's name")
    staff_id: int | None


class TemplateOut(Schema):
    id: int
    name: str
    allow_forwarding: bool
    steps: list[TemplateStepOut]
    boxes: int = Field(description="signature boxes it places")
    created_at: JstDateTime


class TemplatePage(Schema):
    items: list[TemplateOut]
    next_cursor: str | None


# --- staff and departments (admin scope) ----------------------------------------------------


class RoleName(StrEnum):
    admin = "admin"
    sender = "sender"
    approver = "approver"
    signer = "signer"
    viewer = "viewer"


class StaffOut(Schema):
    id: int
    login_id: str
    display_name: str
    kana: str
    email: str
    department: Ref | None
    roles: list[RoleName]
    is_active: bool


class StaffPage(Schema):
    items: list[StaffOut]
    next_cursor: str | None


class StaffIn(Schema):
    """A new member: registered without a password; keiyaku e-mails them the link to set one."""

    login_id: str = Field(max_length=150, pattern=r"^[\w.@+-]+$")
    display_name: str = Field(max_length=200)
    kana: str = Field("", max_length=200)
    email: str = Field(max_length=254)
    department_id: int | None = None
    roles: list[RoleName] = Field(min_length=1, max_length=5)


class DepartmentOut(Schema):
    id: int
    name: str
    parent_id: int | None


class DepartmentPage(Schema):
    items: list[DepartmentOut]
    next_cursor: str | None


class DepartmentIn(Schema):
    name: str = Field(max_length=200)
    parent_id: int | None = None


# --- the monthly report (R33) ---------------------------------------------------------------


class FiguresOut(Schema):
    sent: int
    concluded: int
    rejected: int
    cancelled: int
    expired: int
    imported: int
    average_days: float | None = Field(description="days from sending to conclusion")
    jobs_retried: int
    jobs_failed: int
    mails_undelivered: int


class ReportRowOut(Schema):
    month: str = Field(examples=["2026-04"])
    department: str
    figures: FiguresOut


class ReportTotalOut(Schema):
    month: str
    figures: FiguresOut


class MonthlyReportOut(Schema):
    """Per month and department, over the contracts the token's member sees (R29)."""

    months: list[str]
    rows: list[ReportRowOut]
    totals: list[ReportTotalOut]
