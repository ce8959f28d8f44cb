"""Parties and routing through the API (R6, R7, R18): append, reorder, join the previous
step, remove, set a duplicated draft's access code, unlock. A party's access code goes in,
never out; its links never leave keiyaku except by e-mail to the party."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.responses import Status

from keiyaku.accounts.models import Staff
from keiyaku.api.common import ERRORS, actor, contract_of
from keiyaku.api.contracts import contract_out
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import ContractOut, PartyIn, PartyPatch
from keiyaku.contracts import services
from keiyaku.contracts.models import Party
from keiyaku.contracts.services.duplicate import party_set_access_code

router = Router(tags=["parties"])


class AccessCodeIn(Schema):
    access_code: str = ""


def _party(request: HttpRequest, contract_id: uuid.UUID, party_id: int) -> Party:
    return get_object_or_404(Party, pk=party_id, contract=contract_of(request, contract_id))


@router.post(
    "/{contract_id}/parties",
    response={201: ContractOut, **ERRORS},
    summary="Append a party to a draft's routing",
)
def party_add(request: HttpRequest, contract_id: uuid.UUID, payload: PartyIn):
    contract = contract_of(request, contract_id)
    staff = None
    if payload.staff_id is not None:
        # Only the contract's organisation's members; the service checks the role.
        staff = Staff.objects.filter(
            pk=payload.staff_id, organisation_id=contract.organisation_id
        ).first()
    services.party_add(
        contract=contract,
        actor=actor(request),
        kind=payload.kind,
        name=payload.name,
        email=payload.email,
        company=payload.company,
        access_code=payload.access_code,
        staff=staff,
        role=payload.role,
        parallel=payload.parallel,
        meta=api_meta(request),
    )
    return Status(201, contract_out(contract_of(request, contract_id)))


@router.patch(
    "/{contract_id}/parties/{party_id}",
    response={200: ContractOut, **ERRORS},
    summary="Move a party or join it to the step before",
)
def party_change(request: HttpRequest, contract_id: uuid.UUID, party_id: int, payload: PartyPatch):
    party = _party(request, contract_id, party_id)
    if payload.parallel is not None:
        services.party_set_parallel(
            party=party, actor=actor(request), parallel=payload.parallel, meta=api_meta(request)
        )
    if payload.move:
        services.party_move(
            party=party, actor=actor(request), offset=payload.move, meta=api_meta(request)
        )
    return contract_out(contract_of(request, contract_id))


@router.delete(
    "/{contract_id}/parties/{party_id}",
    response={200: ContractOut, **ERRORS},
    summary="Remove a party from a draft",
)
def party_remove(request: HttpRequest, contract_id: uuid.UUID, party_id: int):
    party = _party(request, contract_id, party_id)
    services.party_remove(party=party, actor=actor(request), meta=api_meta(request))
    return contract_out(contract_of(request, contract_id))


@router.post(
    "/{contract_id}/parties/{party_id}/access-code",
    response={200: ContractOut, **ERRORS},
    summary="Set an external party's access code on a draft",
)
def party_access_code(
    request: HttpRequest, contract_id: uuid.UUID, party_id: int, payload: AccessCodeIn
):
    party = _party(request, contract_id, party_id)
    party_set_access_code(
        party=party, actor=actor(request), access_code=payload.access_code, meta=api_meta(request)
    )
    return contract_out(contract_of(request, contract_id))


@router.post(
    "/{contract_id}/parties/{party_id}/unlock",
    response={200: ContractOut, **ERRORS},
    summary="Unlock a party's link, optionally with a new access code",
)
def party_unlock(
    request: HttpRequest, contract_id: uuid.UUID, party_id: int, payload: AccessCodeIn
):
    party = _party(request, contract_id, party_id)
    services.party_unlock(
        party=party, actor=actor(request), access_code=payload.access_code, meta=api_meta(request)
    )
    return contract_out(contract_of(request, contract_id))
