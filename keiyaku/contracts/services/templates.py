"""Contract templates (R13): save a contract's routing and settings; start a contract from one.

Counterparties are saved as roles (「受注者」, a company slot), not people: each use of the
template names them anew. Staff approvers and signers are saved as they are (the mayor signs
every contract of this kind). Boxes are saved by document position, page and routing step; a
box whose page the new contract's documents lack is left for staff to place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import (
    Box,
    Contract,
    ContractTemplate,
    Party,
    PartyKind,
)
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.services.boxes import BOX_FIELDS, box_create
from keiyaku.contracts.services.drafting import party_add
from keiyaku.contracts.states import PARTY_COUNTED
from keiyaku.text_input import require_single_line


@dataclass(frozen=True)
class SlotFill:
    """Who takes an external slot of a template in this contract."""

    company: str
    name: str
    email: str
    access_code: str


def template_save(
    *, contract: Contract, actor: Staff, name: str, meta: RequestMeta = SYSTEM
) -> ContractTemplate:
    require_contract_change(actor, contract)
    name = name.strip()
    if not name:
        raise ContractError(_("テンプレート名を入力してください。"), code="name_required")
    require_single_line(name=("テンプレート名", name))
    parties = list(contract.parties.filter(status__in=PARTY_COUNTED).order_by("position", "id"))
    if not parties:
        raise ContractError(_("署名者が設定されていない案件は保存できません。"), code="no_parties")
    routing = []
    external_count = 0
    for party in parties:
        step: dict[str, object] = {
            "kind": party.kind,
            "role": party.role,
            "parallel": party.parallel,
        }
        if party.kind == PartyKind.STAFF:
            step["staff"] = party.staff_id
            step["label"] = party.name
        else:
            external_count += 1
            step["label"] = f"事業者{external_count}"
        routing.append(step)
    index = {party.pk: i for i, party in enumerate(parties)}
    boxes = [
        {
            "document": box.document.position,
            "step": index[box.party_id],
            **{key: getattr(box, key) for key in BOX_FIELDS},
        }
        for box in Box.objects.filter(document__contract=contract).select_related("document")
        if box.party_id in index
    ]
    try:
        with transaction.atomic():
            template = ContractTemplate.objects.create(
                organisation=contract.organisation,
                name=name,
                created_by=actor,
                routing=routing,
                boxes=boxes,
                allow_forwarding=contract.allow_forwarding,
            )
            audit_record(
                event="template.save",
                organisation=contract.organisation,
                actor=actor,
                subject=contract.audit_subject,
                detail={"template": name, "steps": len(routing)},
                meta=meta,
            )
    except IntegrityError as exc:
        raise ContractError(_("同じ名前のテンプレートがあります。"), code="duplicate") from exc
    return template


@transaction.atomic
def template_apply(
    *,
    contract: Contract,
    template: ContractTemplate,
    actor: Staff,
    fills: Sequence[SlotFill],
    meta: RequestMeta = SYSTEM,
) -> list[Party]:
    """Set a draft's routing from a template; `fills` names each external slot in order.

    The contract is locked first and checked under the lock (see `drafting`).

    Raises:
        ContractError: ``slots`` when `fills` are fewer or more than the template's external
            slots; ``email`` for a slot whose address is not one; the refusals of `party_add`
            and `box_create` (R13)."""
    require_contract_change(actor, contract)
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if not contract.is_editable or contract.parties.exists():
        raise ContractError(
            _("テンプレートは署名者が未設定の下書きにだけ適用できます。"), code="not_empty"
        )
    if template.organisation_id != contract.organisation_id:
        raise ContractError(_("テンプレートが見つかりません。"), code="template")
    slots = iter(fills)
    parties = []
    for step in template.routing:
        if step["kind"] == PartyKind.STAFF:
            staff = Staff.objects.filter(
                pk=step.get("staff"), organisation_id=contract.organisation_id, is_active=True
            ).first()
            if staff is None:
                raise ContractError(
                    _("テンプレートの職員「%(name)s」は利用できません。")
                    % {"name": step.get("label", "")},
                    code="staff_gone",
                )
            parties.append(
                party_add(
                    contract=contract,
                    actor=actor,
                    kind=PartyKind.STAFF,
                    staff=staff,
                    role=step["role"],
                    parallel=step["parallel"],
                    meta=meta,
                )
            )
        else:
            fill = next(slots, None)
            if fill is None:
                raise ContractError(_("事業者の情報が足りません。"), code="slots")
            parties.append(
                party_add(
                    contract=contract,
                    actor=actor,
                    kind=PartyKind.EXTERNAL,
                    company=fill.company,
                    name=fill.name,
                    email=fill.email,
                    access_code=fill.access_code,
                    parallel=step["parallel"],
                    meta=meta,
                )
            )
    if next(slots, None) is not None:
        # A slot the template has no place for would be dropped without a word: refuse it.
        raise ContractError(
            _("事業者の情報が多すぎます（このテンプレートの事業者は%(count)d社です）。")
            % {"count": len(template.external_slots)},
            code="slots",
        )
    Contract.objects.filter(pk=contract.pk).update(allow_forwarding=template.allow_forwarding)
    documents = {doc.position: doc for doc in contract.documents.all()}
    for spec in template.boxes:
        document = documents.get(spec["document"])
        if document is None or spec["page"] > document.page_count:
            continue  # this contract's documents are shorter: place that box by hand
        data = {key: spec[key] for key in BOX_FIELDS}
        box_create(
            document=document,
            actor=actor,
            data={**data, "party": parties[spec["step"]].pk},
            meta=meta,
        )
    return parties
