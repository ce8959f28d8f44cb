"""Contract templates through the API (R13, R40): list and get the organisation's templates,
and set a draft's routing from one (a contract from a template: create the draft with its
documents, then apply the template to it, naming each counterparty slot)."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest
from ninja import Router

from keiyaku.api.common import ERRORS, actor, contract_of, page_of
from keiyaku.api.contracts import contract_out
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import ContractOut, TemplateApplyIn, TemplateOut, TemplatePage
from keiyaku.contracts import services
from keiyaku.contracts.models import ContractTemplate
from keiyaku.contracts.selectors import templates_for

router = Router(tags=["templates"])
contract_router = Router(tags=["templates"])


def template_out(template: ContractTemplate) -> dict[str, object]:
    """A template as `TemplateOut`: its steps (a counterparty as a slot, 事業者1 …)."""
    return {
        "id": template.pk,
        "name": template.name,
        "allow_forwarding": template.allow_forwarding,
        "steps": [
            {
                "kind": step["kind"],
                "role": step["role"],
                "parallel": bool(step.get("parallel")),
                "label": str(step.get("label", "")),
                "staff_id": step.get("staff"),
            }
            for step in template.steps_shown
        ],
        "boxes": len(template.boxes),
        "created_at": template.created_at,
    }


def template_of(request: HttpRequest, template_id: int) -> ContractTemplate:
    """The template ``template_id`` as the token's member sees it (R13: their organisation's);
    404 ``not_found`` otherwise."""
    template = templates_for(actor(request)).filter(pk=template_id).first()
    if template is None:
        raise Http404
    return template


@router.get("", response={200: TemplatePage, **ERRORS}, summary="List templates")
def template_list(request: HttpRequest, after: str | None = None, limit: int = 50):
    """The organisation's templates (shared by all its staff), oldest first."""
    rows, following = page_of(templates_for(actor(request)), after=after, limit=limit)
    return {"items": [template_out(t) for t in rows], "next_cursor": following}


@router.get("/{template_id}", response={200: TemplateOut, **ERRORS}, summary="Get a template")
def template_get(request: HttpRequest, template_id: int):
    return template_out(template_of(request, template_id))


def slot_fills(payload: TemplateApplyIn) -> list[services.SlotFill]:
    """The body's slots as the service takes them, in order."""
    return [
        services.SlotFill(
            company=slot.company, name=slot.name, email=slot.email, access_code=slot.access_code
        )
        for slot in payload.slots
    ]


@contract_router.post(
    "/{contract_id}/template",
    response={200: ContractOut, **ERRORS},
    summary="Set a draft's routing (and boxes) from a template",
)
def template_apply(request: HttpRequest, contract_id: uuid.UUID, payload: TemplateApplyIn):
    """Only on a draft without parties (409 ``not_empty``). ``slots`` name the template's
    counterparty slots in order (company, name, e-mail, access code); its staff steps and
    boxes are set as saved (a box whose page the documents lack is left to place)."""
    contract = contract_of(request, contract_id)
    template = template_of(request, payload.template_id)
    services.template_apply(
        contract=contract,
        template=template,
        actor=actor(request),
        fills=slot_fills(payload),
        meta=api_meta(request),
    )
    return contract_out(contract_of(request, contract_id))
