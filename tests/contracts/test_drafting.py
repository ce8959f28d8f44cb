"""Editing a draft (R6): documents and parties removed, moved, joined in parallel steps."""

from __future__ import annotations

import pytest

from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, Contract, ContractStatus, Document, Party
from keiyaku.contracts.services.boxes import box_create
from keiyaku.contracts.services.drafting import Upload
from tests.flow import External, draft_contract
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

FIRMS = [
    External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111"),
    External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222"),
    External("鈴木土木有限会社", "鈴木 三郎", "suzuki@example.jp", "3333"),
]


def routing(contract) -> list[tuple[str, int, int]]:
    """(name, position, step) in order."""
    return list(contract.parties.order_by("position").values_list("name", "position", "step"))


def events(contract, event: str) -> list[Event]:
    return list(Event.objects.filter(subject=contract.audit_subject, event=event).order_by("id"))


def test_removing_a_document_numbers_the_rest_from_one(personas):
    contract = draft_contract(personas.sender, documents=3)
    first, second, third = contract.documents.order_by("position")
    services.document_remove(document=first, actor=personas.sender)
    assert list(contract.documents.order_by("position").values_list("pk", "position")) == [
        (second.pk, 1),
        (third.pk, 2),
    ]
    (entry,) = events(contract, "document.remove")
    assert entry.actor == personas.sender and entry.detail == {"filename": first.filename}


def test_the_last_document_stays(personas):
    contract = draft_contract(personas.sender)
    with pytest.raises(ContractError) as refused:
        services.document_remove(document=contract.documents.get(), actor=personas.sender)
    assert refused.value.code == "last_document"
    assert contract.documents.count() == 1 and not events(contract, "document.remove")


def test_removing_a_party_closes_the_gap_and_drops_its_boxes(personas):
    contract = draft_contract(personas.sender, externals=FIRMS)
    takahashi, sato, suzuki = contract.parties.order_by("position")
    box_create(
        document=contract.documents.get(),
        actor=personas.sender,
        data={"page": 1, "x": 60, "y": 600, "width": 200, "height": 22, "party": sato.pk},
    )
    services.party_remove(party=sato, actor=personas.sender)
    assert routing(contract) == [(takahashi.name, 1, 1), (suzuki.name, 2, 2)]
    assert not Box.objects.filter(document__contract=contract).exists()
    (entry,) = events(contract, "party.remove")
    assert entry.detail == {"position": 2, "name": sato.name}


def test_moving_a_party_swaps_it_with_its_neighbour(personas):
    contract = draft_contract(personas.sender, externals=FIRMS)
    takahashi, sato, suzuki = contract.parties.order_by("position")
    services.party_move(party=suzuki, actor=personas.sender, offset=-1)
    assert routing(contract) == [(takahashi.name, 1, 1), (suzuki.name, 2, 2), (sato.name, 3, 3)]
    services.party_move(party=takahashi, actor=personas.sender, offset=-1)  # already first
    assert routing(contract)[0] == (takahashi.name, 1, 1)
    assert [e.detail for e in events(contract, "party.move")] == [{"name": suzuki.name, "to": 2}]


def test_parallel_parties_share_a_step_and_the_steps_are_recomputed(personas):
    contract = draft_contract(personas.sender, externals=FIRMS, staff_signers=[personas.mayor])
    takahashi, sato, suzuki, mayor = contract.parties.order_by("position")
    services.party_set_parallel(party=sato, actor=personas.sender, parallel=True)
    services.party_set_parallel(party=suzuki, actor=personas.sender, parallel=True)
    assert [step for _, _, step in routing(contract)] == [1, 1, 1, 2]
    services.party_set_parallel(party=sato, actor=personas.sender, parallel=False)
    assert [step for _, _, step in routing(contract)] == [1, 2, 2, 3]
    # The first party has nobody before it to join.
    services.party_set_parallel(party=takahashi, actor=personas.sender, parallel=True)
    takahashi.refresh_from_db()
    assert not takahashi.parallel and takahashi.step == 1
    # Moving keeps the flags: 佐藤 leads its step, 鈴木 joins whoever is before it.
    services.party_move(party=mayor, actor=personas.sender, offset=-1)
    assert routing(contract) == [
        (takahashi.name, 1, 1),
        (sato.name, 2, 2),
        (mayor.name, 3, 3),
        (suzuki.name, 4, 3),
    ]
    assert len(events(contract, "party.move")) == 5


def test_a_sent_contract_cannot_be_edited_through_objects_read_before_sending(personas):
    # A request that read the draft before another one sent it holds a stale contract: the
    # state that counts is the locked row's.
    contract = draft_contract(personas.sender, externals=FIRMS[:2], documents=2)
    party = Party.objects.select_related("contract").filter(contract=contract).first()
    document = Document.objects.select_related("contract").filter(contract=contract).first()
    assert party is not None and document is not None
    services.contract_send(contract=Contract.objects.get(pk=contract.pk), actor=personas.sender)
    assert party.contract.status == ContractStatus.DRAFT  # what the late request believes
    for edit in [
        lambda: services.party_remove(party=party, actor=personas.sender),
        lambda: services.party_move(party=party, actor=personas.sender, offset=1),
        lambda: services.party_set_parallel(party=party, actor=personas.sender, parallel=True),
        lambda: services.document_remove(document=document, actor=personas.sender),
        lambda: services.document_add(
            contract=document.contract,
            actor=personas.sender,
            upload=Upload(filename="別紙.pdf", data=make_pdf(text="別紙")),
        ),
    ]:
        with pytest.raises(ContractError) as refused:
            edit()
        assert refused.value.code == "not_draft"
    assert routing(contract) == [(FIRMS[0].name, 1, 1), (FIRMS[1].name, 2, 2)]
    assert contract.documents.count() == 2
