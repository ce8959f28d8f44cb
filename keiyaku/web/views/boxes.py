"""The box placement screen and its JSON endpoints (R8). Staff only; outsiders get 404."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keiyaku.accounts.permissions import can_edit_contracts, contract_editor_required
from keiyaku.ascii_digits import ascii_int
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, Contract
from keiyaku.contracts.selectors import contract_for, document_page_sizes
from keiyaku.contracts.services.boxes import box_create, box_delete, box_update
from keiyaku.web.page_images import page_srcset, page_url
from keiyaku.web.refusals import attempt, refusal_json
from keiyaku.web.views.contracts import StaffRequest


def box_json(box: Box) -> dict[str, Any]:
    return {
        "id": box.pk,
        "document": box.document_id,
        "page": box.page,
        "x": box.x,
        "y": box.y,
        "width": box.width,
        "height": box.height,
        "kind": box.kind,
        "label": box.label,
        "party": box.party_id,
        "required": box.required,
        "max_length": box.max_length,
        "value": box.value,
    }


def _body(request: StaffRequest) -> dict[str, Any] | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _bad_json() -> JsonResponse:
    return refusal_json(ContractError(_("JSONの形式が正しくありません。"), code="bad_json"))


def _state(contract: Contract, staff: Any) -> dict[str, Any]:
    documents = []
    for doc in contract.documents.all():
        blob = doc.current_version().blob
        pages = []
        for number, (width, height) in enumerate(document_page_sizes(doc), start=1):
            image = reverse("document-page", args=[contract.pk, doc.pk, number])
            pages.append(
                {
                    "number": number,
                    "width": width,
                    "height": height,
                    "image": page_url(image, blob),
                    "srcset": page_srcset(image, blob),
                }
            )
        documents.append({"id": doc.pk, "filename": doc.filename, "pages": pages})
    parties = [
        {"id": p.pk, "label": f"{p.position}. {p.company} {p.name}".strip(), "position": p.position}
        for p in contract.parties.order_by("position")
        if not p.is_approver
    ]
    return {
        "documents": documents,
        "parties": parties,
        "boxes": [box_json(b) for b in Box.objects.filter(document__contract=contract)],
        "editable": contract.is_editable and can_edit_contracts(staff),
    }


@contract_editor_required
def box_placement(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    return render(request, "web/box_placement.html", {"contract": contract})


@contract_editor_required
@require_http_methods(["GET", "POST"])
def boxes_collection(request: StaffRequest, contract_id) -> JsonResponse:
    contract = contract_for(request.user, contract_id)
    if request.method == "GET":
        return JsonResponse(_state(contract, request.user))
    data = _body(request)
    if data is None:
        return _bad_json()
    document_id = ascii_int(str(data.get("document", "")))
    document = (
        contract.documents.filter(pk=document_id).first() if document_id is not None else None
    )
    if document is None:
        return refusal_json(
            ContractError(_("書類を指定してください。"), code="document", field="document")
        )
    created = attempt(
        request,
        lambda: box_create(
            document=document, actor=request.user, data=data, meta=RequestMeta.from_request(request)
        ),
        show=False,
    )
    if created.refusal is not None:
        return refusal_json(created.refusal)
    assert created.result is not None
    return JsonResponse(box_json(created.result), status=201)


@contract_editor_required
@require_http_methods(["PATCH", "DELETE"])
def box_item(request: StaffRequest, contract_id, box_id: int) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    box = (
        Box.objects.filter(pk=box_id, document__contract=contract)
        .select_related("document__contract")
        .first()
    )
    if box is None:
        raise Http404
    meta = RequestMeta.from_request(request)
    if request.method == "DELETE":
        deleted = attempt(
            request, lambda: box_delete(box=box, actor=request.user, meta=meta), show=False
        )
        if deleted.refusal is not None:
            return refusal_json(deleted.refusal)
        return HttpResponse(status=204)
    data = _body(request)
    if data is None:
        return _bad_json()
    updated = attempt(
        request, lambda: box_update(box=box, actor=request.user, data=data, meta=meta), show=False
    )
    if updated.refusal is not None:
        return refusal_json(updated.refusal)
    assert updated.result is not None
    return JsonResponse(box_json(updated.result))
