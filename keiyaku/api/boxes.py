"""Boxes through the API (R8, R40): the input boxes (text, multiline, date, checkbox) staff
place on a draft's pages for its signing parties, read, placed, changed and removed through
`keiyaku.contracts.services.boxes`, as on the box placement screen.

The services own every rule (a draft only, the actor may change the contract, the page exists,
the box lies on it, the party signs); their refusals carry the field at fault, named as in
`schemas.BoxIn`. A contract the token may not see is a 404, and so is a box of another.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router
from ninja.responses import Status

from keiyaku.api.common import ERRORS, actor, contract_of
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import BoxesOut, BoxIn, BoxOut, BoxPatch
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, Contract
from keiyaku.contracts.selectors import document_page_sizes
from keiyaku.contracts.services.boxes import box_create, box_delete, box_update

router = Router(tags=["boxes"])


def box_out(box: Box) -> dict[str, object]:
    """The box as `BoxOut`."""
    return {
        "id": box.pk,
        "document": box.document_id,
        "party": box.party_id,
        "page": box.page,
        "x": box.x,
        "y": box.y,
        "width": box.width,
        "height": box.height,
        "kind": box.kind,
        "label": box.label,
        "required": box.required,
        "max_length": box.max_length,
        "value": box.value,
        "filled_at": box.filled_at,
    }


def _box(request: HttpRequest, contract_id: uuid.UUID, box_id: int) -> Box:
    contract = contract_of(request, contract_id)
    return get_object_or_404(
        Box.objects.select_related("document__contract"), pk=box_id, document__contract=contract
    )


def _boxes(contract: Contract) -> dict[str, object]:
    pages = []
    for document in contract.documents.order_by("position"):
        for number, (width, height) in enumerate(document_page_sizes(document), start=1):
            pages.append(
                {"document": document.pk, "page": number, "width": width, "height": height}
            )
    boxes = Box.objects.filter(document__contract=contract)
    return {"boxes": [box_out(box) for box in boxes], "pages": pages}


@router.get(
    "/{contract_id}/boxes",
    response={200: BoxesOut, **ERRORS},
    summary="A contract's boxes and the size of its pages",
)
def box_list(request: HttpRequest, contract_id: uuid.UUID):
    """Every box of the contract in page order (with what each party entered, once it agreed),
    and each page's size in points, to place boxes on."""
    return _boxes(contract_of(request, contract_id))


@router.post(
    "/{contract_id}/boxes",
    response={201: BoxOut, **ERRORS},
    summary="Place a box on a draft for a signing party",
)
def box_add(request: HttpRequest, contract_id: uuid.UUID, payload: BoxIn):
    """A box on a page of one of the draft's documents, filled by ``party`` when it agrees.
    409 ``not_draft`` once sent; 422 with the field at fault (``page``, ``x``, ``y``,
    ``width``, ``height``, ``party``, ``label``, ``max_length``, ``document``) otherwise."""
    contract = contract_of(request, contract_id)
    document = contract.documents.filter(pk=payload.document).first()
    if document is None:
        raise ContractError(_("書類を指定してください。"), code="document", field="document")
    data = payload.model_dump(exclude={"document"})
    box = box_create(document=document, actor=actor(request), data=data, meta=api_meta(request))
    return Status(201, box_out(box))


@router.patch(
    "/{contract_id}/boxes/{box_id}",
    response={200: BoxOut, **ERRORS},
    summary="Move, resize or change a draft's box",
)
def box_change(request: HttpRequest, contract_id: uuid.UUID, box_id: int, payload: BoxPatch):
    """Absent fields keep their values; ``"max_length": null`` removes the limit."""
    box = _box(request, contract_id, box_id)
    changed = box_update(
        box=box,
        actor=actor(request),
        data=payload.model_dump(exclude_unset=True),
        meta=api_meta(request),
    )
    return box_out(changed)


@router.delete(
    "/{contract_id}/boxes/{box_id}",
    response={204: None, **ERRORS},
    summary="Remove a box from a draft",
)
def box_remove(request: HttpRequest, contract_id: uuid.UUID, box_id: int):
    box = _box(request, contract_id, box_id)
    box_delete(box=box, actor=actor(request), meta=api_meta(request))
    return Status(204, None)
