"""Documents through the API: upload to a draft (JSON with base64, or multipart), remove,
download the original or the current version (signed once concluded), and the certificate of
completion (R22-R24, R40). Downloads are audited as on the contract page."""

from __future__ import annotations

import uuid
from typing import Literal
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import File, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from keiyaku.api.common import ERRORS, actor, contract_of, upload_of, uploads_of
from keiyaku.api.contracts import contract_out
from keiyaku.api.errors import error_response
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import ContractOut, DocumentIn
from keiyaku.audit.services import audit_record
from keiyaku.contracts import services
from keiyaku.contracts.models import Document
from keiyaku.contracts.services import downloads
from keiyaku.storage.blobs import blob_get
from keiyaku.storage.models import Blob

router = Router(tags=["documents"])

PDF = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


def _document(request: HttpRequest, contract_id: uuid.UUID, document_id: int) -> Document:
    return get_object_or_404(Document, pk=document_id, contract=contract_of(request, contract_id))


def pdf_download(blob: Blob, filename: str) -> HttpResponse:
    """A stored PDF as a download, its ETag its SHA-256."""
    response = HttpResponse(blob_get(blob), content_type="application/pdf")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, no-cache"
    response["ETag"] = f'"{blob.sha256}"'
    return response


@router.post(
    "/{contract_id}/documents",
    response={201: ContractOut, **ERRORS},
    summary="Add a document to a draft (JSON, base64)",
)
def document_add(request: HttpRequest, contract_id: uuid.UUID, payload: DocumentIn):
    contract = contract_of(request, contract_id)
    services.document_add(
        contract=contract, actor=actor(request), upload=upload_of(payload), meta=api_meta(request)
    )
    return Status(201, contract_out(contract_of(request, contract_id)))


@router.post(
    "/{contract_id}/documents/multipart",
    response={201: ContractOut, **ERRORS},
    summary="Add a document to a draft (multipart)",
)
def document_add_multipart(
    request: HttpRequest,
    contract_id: uuid.UUID,
    file: File[UploadedFile],  # type: ignore[type-arg]
):
    contract = contract_of(request, contract_id)
    (upload,) = uploads_of([file])
    services.document_add(
        contract=contract, actor=actor(request), upload=upload, meta=api_meta(request)
    )
    return Status(201, contract_out(contract_of(request, contract_id)))


@router.delete(
    "/{contract_id}/documents/{document_id}",
    response={200: ContractOut, **ERRORS},
    summary="Remove a document from a draft",
)
def document_remove(request: HttpRequest, contract_id: uuid.UUID, document_id: int):
    document = _document(request, contract_id, document_id)
    services.document_remove(document=document, actor=actor(request), meta=api_meta(request))
    return contract_out(contract_of(request, contract_id))


@router.get(
    "/{contract_id}/documents/{document_id}/{which}",
    response={200: bytes, **ERRORS},
    openapi_extra={"responses": {"200": PDF}},
    summary="Download a document: original, or current (signed once concluded)",
)
def document_download(
    request: HttpRequest,
    contract_id: uuid.UUID,
    document_id: int,
    which: Literal["original", "current"],
):
    """``which``: ``original`` (the file as uploaded) or ``current`` (the version the parties
    read now: prepared, partly signed, or signed and time-stamped once concluded)."""
    document = _document(request, contract_id, document_id)
    contract = document.contract
    if which == "original":
        blob, name = document.original, document.filename
    elif which == "current":
        blob, name = document.current_version().blob, document.filename
        if contract.is_imported:
            name = _("タイムスタンプ付き_%(filename)s") % {"filename": document.filename}
        elif contract.is_concluded:
            name = _("署名済み_%(filename)s") % {"filename": document.filename}
    else:
        raise Http404
    audit_record(
        event="document.download",
        organisation=contract.organisation,
        actor=actor(request),
        subject=contract.audit_subject,
        detail={"filename": name, "sha256": blob.sha256, "which": which},
        meta=api_meta(request),
    )
    return pdf_download(blob, name)


@router.get(
    "/{contract_id}/certificate",
    response={200: bytes, **ERRORS, 202: ERRORS[409]},
    openapi_extra={"responses": {"200": PDF}},
    summary="Download the certificate of completion",
)
def certificate_download(request: HttpRequest, contract_id: uuid.UUID):
    """The certificate of completion (締結証明書, R22) of a concluded contract; 404 before.
    A 202 ``certificate_pending`` with Retry-After while keiyaku prepares it."""
    contract = contract_of(request, contract_id)
    if not contract.has_certificate:
        raise Http404
    pdf = downloads.certificate_requested(contract)
    if pdf is None:
        return error_response(
            202,
            "certificate_pending",
            _("締結証明書を作成しています。1分ほどしてから、もう一度ダウンロードしてください。"),
            Retry_After="60",
        )
    audit_record(
        event="certificate.download",
        organisation=contract.organisation,
        actor=actor(request),
        subject=contract.audit_subject,
        meta=api_meta(request),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = downloads.certificate_filename(contract)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response["Cache-Control"] = "private, no-cache"
    return response
