"""A contract's electronic sureties (電子保証) and attachments through the API (R32, R40):
list, add, correct, remove, and download an attachment.

Every write goes through `contracts.services.sureties` and `contracts.services.corrections`
with the token's member as the actor (they check `require_contract_change`), in any state of
the contract. Corrections and removals keep the history (電子帳簿保存法's 訂正削除の履歴) and ask
for a reason. A surety's 認証キー is in its output because the contract's page shows it to
everyone who may read the contract; it is never in an audit entry.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from keiyaku.api.common import ERRORS, actor, contract_of, page_of, upload_of, uploads_of
from keiyaku.api.documents import PDF, pdf_download
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import (
    AttachmentOut,
    AttachmentPage,
    DocumentIn,
    ReasonIn,
    SuretyIn,
    SuretyOut,
    SuretyPage,
    SuretyPatch,
)
from keiyaku.audit.services import audit_record
from keiyaku.contracts.models import Attachment, Surety
from keiyaku.contracts.services import corrections, sureties
from keiyaku.contracts.services.sureties import SuretyValues

router = Router(tags=["sureties and attachments"])


def attachment_out(attachment: Attachment) -> dict[str, object]:
    """An attachment as `AttachmentOut`."""
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "size": attachment.blob.size,
        "sha256": attachment.blob.sha256,
        "added_at": attachment.added_at,
    }


def surety_out(surety: Surety) -> dict[str, object]:
    """A surety as `SuretyOut`, its 認証キー opened (`sureties.surety_auth_key`)."""
    notice = surety.notice
    return {
        "id": surety.pk,
        "kind": surety.kind,
        "issuer": surety.issuer,
        "number": surety.number,
        "auth_key": sureties.surety_auth_key(surety),
        "amount": surety.amount,
        "period_start": surety.period_start,
        "period_end": surety.period_end,
        "notice": attachment_out(notice) if notice is not None and not notice.is_removed else None,
        "corrections": surety.corrections.count(),
        "added_at": surety.added_at,
    }


def _surety(request: HttpRequest, contract_id: uuid.UUID, surety_id: int) -> Surety:
    """A current surety of a contract the token's member may read; 404 for any other."""
    return get_object_or_404(
        Surety.objects.current().select_related("contract", "notice__blob"),
        pk=surety_id,
        contract=contract_of(request, contract_id),
    )


def _attachment(
    request: HttpRequest, contract_id: uuid.UUID, attachment_id: int, *, current: bool = True
) -> Attachment:
    rows = Attachment.objects.select_related("contract", "blob__keyring")
    return get_object_or_404(
        rows.current() if current else rows,
        pk=attachment_id,
        contract=contract_of(request, contract_id),
    )


@router.get(
    "/{contract_id}/attachments",
    response={200: AttachmentPage, **ERRORS},
    summary="List a contract's attachments (not signed)",
)
def attachment_list(
    request: HttpRequest, contract_id: uuid.UUID, after: str | None = None, limit: int = 50
):
    """The current attachments, oldest first (removed ones stay in the contract's history)."""
    contract = contract_of(request, contract_id)
    rows, following = page_of(
        contract.attachments.current().select_related("blob"), after=after, limit=limit
    )
    return {"items": [attachment_out(a) for a in rows], "next_cursor": following}


def _attachment_add(request: HttpRequest, contract_id: uuid.UUID, upload) -> Status:
    contract = contract_of(request, contract_id)
    added = sureties.attachment_add(
        contract=contract, actor=actor(request), upload=upload, meta=api_meta(request)
    )
    return Status(201, attachment_out(added))


@router.post(
    "/{contract_id}/attachments",
    response={201: AttachmentOut, **ERRORS},
    summary="Attach a PDF to a contract (JSON, base64)",
)
def attachment_add(request: HttpRequest, contract_id: uuid.UUID, payload: DocumentIn):
    """In any state of the contract; never signed, never sent to the parties."""
    return _attachment_add(request, contract_id, upload_of(payload))


@router.post(
    "/{contract_id}/attachments/multipart",
    response={201: AttachmentOut, **ERRORS},
    summary="Attach a PDF to a contract (multipart)",
)
def attachment_add_multipart(
    request: HttpRequest,
    contract_id: uuid.UUID,
    file: File[UploadedFile],  # type: ignore[type-arg]
):
    (upload,) = uploads_of([file])
    return _attachment_add(request, contract_id, upload)


@router.get(
    "/{contract_id}/attachments/{attachment_id}/file",
    response={200: bytes, **ERRORS},
    openapi_extra={"responses": {"200": PDF}},
    summary="Download an attachment as it was uploaded",
)
def attachment_download(request: HttpRequest, contract_id: uuid.UUID, attachment_id: int):
    """Also a removed one (the history names it). Audited as on the contract's page."""
    attachment = _attachment(request, contract_id, attachment_id, current=False)
    contract = attachment.contract
    audit_record(
        event="attachment.download",
        organisation=contract.organisation,
        actor=actor(request),
        subject=contract.audit_subject,
        detail={"filename": attachment.filename, "sha256": attachment.blob.sha256},
        meta=api_meta(request),
    )
    return pdf_download(attachment.blob, attachment.filename)


@router.post(
    "/{contract_id}/attachments/{attachment_id}/remove",
    response={200: AttachmentOut, **ERRORS},
    summary="Remove an attachment, with the reason (kept in the history)",
)
def attachment_remove(
    request: HttpRequest, contract_id: uuid.UUID, attachment_id: int, payload: ReasonIn
) -> HttpResponse | dict[str, object]:
    attachment = _attachment(request, contract_id, attachment_id)
    removed = corrections.attachment_remove(
        attachment=attachment, actor=actor(request), reason=payload.reason, meta=api_meta(request)
    )
    return attachment_out(removed)


@router.get(
    "/{contract_id}/sureties",
    response={200: SuretyPage, **ERRORS},
    summary="List a contract's electronic sureties",
)
def surety_list(
    request: HttpRequest, contract_id: uuid.UUID, after: str | None = None, limit: int = 50
):
    contract = contract_of(request, contract_id)
    rows, following = page_of(
        contract.sureties.current().select_related("notice__blob"), after=after, limit=limit
    )
    return {"items": [surety_out(s) for s in rows], "next_cursor": following}


@router.post(
    "/{contract_id}/sureties",
    response={201: SuretyOut, **ERRORS},
    summary="Record an electronic surety (電子保証)",
)
def surety_add(request: HttpRequest, contract_id: uuid.UUID, payload: SuretyIn):
    """In any state of the contract; ``notice``, the issuer's 「認証キーのお知らせ」 PDF, is kept
    as an attachment."""
    contract = contract_of(request, contract_id)
    added = sureties.surety_add(
        contract=contract,
        actor=actor(request),
        values=SuretyValues(
            kind=payload.kind.value,
            issuer=payload.issuer,
            number=payload.number,
            auth_key=payload.auth_key,
            amount=payload.amount,
            period_start=payload.period_start,
            period_end=payload.period_end,
        ),
        notice=upload_of(payload.notice) if payload.notice else None,
        meta=api_meta(request),
    )
    return Status(201, surety_out(added))


@router.patch(
    "/{contract_id}/sureties/{surety_id}",
    response={200: SuretyOut, **ERRORS},
    summary="Correct an electronic surety, with the reason (the previous values are kept)",
)
def surety_correct(
    request: HttpRequest, contract_id: uuid.UUID, surety_id: int, payload: SuretyPatch
):
    surety = _surety(request, contract_id, surety_id)
    given = payload.model_dump(exclude_unset=True)

    def kept(name: str, current: object) -> object:
        """The value given for ``name`` (null as empty text), or the surety's current one."""
        if name not in given:
            return current
        value = given[name]
        return "" if value is None and isinstance(current, str) else value

    kind = kept("kind", surety.kind)
    corrected = corrections.surety_correct(
        surety=surety,
        actor=actor(request),
        values=SuretyValues(
            kind=str(getattr(kind, "value", kind)),
            issuer=str(kept("issuer", surety.issuer)),
            number=str(kept("number", surety.number)),
            auth_key=str(kept("auth_key", sureties.surety_auth_key(surety))),
            amount=kept("amount", surety.amount),  # type: ignore[arg-type]
            period_start=kept("period_start", surety.period_start),  # type: ignore[arg-type]
            period_end=kept("period_end", surety.period_end),  # type: ignore[arg-type]
        ),
        reason=payload.reason,
        notice=upload_of(payload.notice) if payload.notice else None,
        corrections_seen=payload.corrections_seen,
        meta=api_meta(request),
    )
    return surety_out(corrected)


@router.post(
    "/{contract_id}/sureties/{surety_id}/remove",
    response={200: SuretyOut, **ERRORS},
    summary="Remove an electronic surety, with the reason (kept in the history)",
)
def surety_remove(request: HttpRequest, contract_id: uuid.UUID, surety_id: int, payload: ReasonIn):
    surety = _surety(request, contract_id, surety_id)
    removed = corrections.surety_remove(
        surety=surety, actor=actor(request), reason=payload.reason, meta=api_meta(request)
    )
    return surety_out(removed)
