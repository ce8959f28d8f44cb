"""Duplicate a contract into a new draft (issue 14): documents as uploaded, the routing as it
stands, boxes and details; never a signature, agreement, box value, access code or link."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, Contract, ContractStatus, Link, PartyStatus
from keiyaku.contracts.services.boxes import box_create
from keiyaku.contracts.services.duplicate import contract_duplicate, party_set_access_code
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, draft_contract, enter_code, last_link

pytestmark = pytest.mark.django_db(transaction=True)

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")
META = RequestMeta(ip="203.0.113.5", user_agent="test")


def _rejected(personas) -> Contract:
    """A and B (parallel) then the mayor; A forwards to A2, who signs with a box filled; B
    rejects, so the mayor is never asked."""
    contract = draft_contract(personas.sender, externals=[A, B], staff_signers=[personas.mayor])
    first, second, _mayor = contract.parties.order_by("position")
    services.party_set_parallel(party=second, actor=personas.sender, parallel=True)
    document = contract.documents.get()
    for party, label in ((first, "住所"), (second, "氏名")):
        box_create(
            document=document,
            actor=personas.sender,
            data={"page": 1, "x": 60, "y": 600, "width": 200, "height": 22, "kind": "text"}
            | {"label": label, "party": party.pk},
        )
    services.contract_send(contract=contract, actor=personas.sender)
    client = Client()
    client.post(last_link(A.email), {"code": A.code})
    successor = services.party_forward(
        party=contract.parties.get(email=A.email),
        name="髙橋 二郎",
        email="jiro@example.jp",
        company=A.company,
        meta=META,
    )
    box = Box.objects.get(party=successor)
    agree(Client(), last_link("jiro@example.jp"), A.code, {f"box_{box.pk}": "札幌市中央区"})
    services.party_reject(party=contract.parties.get(email=B.email), reason="金額違い", meta=META)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.REJECTED
    return contract


@pytest.mark.slow(seconds=4)
def test_a_rejected_contract_is_duplicated_into_a_draft_without_signatures_or_codes(personas):
    original = _rejected(personas)
    events_before = Event.objects.filter(subject=original.audit_subject).count()
    draft = contract_duplicate(contract=original, actor=personas.sender, meta=META)

    assert draft.status == ContractStatus.DRAFT and draft.pk != original.pk
    assert draft.certificate_id != original.certificate_id
    assert draft.keyring_id != original.keyring_id
    for field in ("title", "management_number", "counterparty_company", "amount", "note"):
        assert getattr(draft, field) == getattr(original, field), field
    assert draft.deadline is None and draft.sent_at is None

    # The documents as uploaded, not as signed.
    (old_doc,) = original.documents.all()
    (new_doc,) = draft.documents.all()
    assert new_doc.original.sha256 == old_doc.original.sha256
    assert blob_get(new_doc.original) == blob_get(old_doc.original)
    assert [v.kind for v in new_doc.versions.all()] == ["normalised"]
    assert blob_get(new_doc.current_version().blob) == blob_get(old_doc.versions.get(seq=1).blob)
    assert old_doc.current_version().seq > 1  # the original was prepared and signed

    # The routing as it stands: the forwarded-to signer, not the forwarder; order and steps.
    parties = list(draft.parties.order_by("position"))
    assert [(p.position, p.step, p.email) for p in parties] == [
        (1, 1, "jiro@example.jp"),
        (2, 1, B.email),
        (3, 2, personas.mayor.email),
    ]
    for party in parties:
        assert party.status == PartyStatus.WAITING
        assert party.access_code == "" and party.agreed_at is None and party.signed_at is None
        assert party.forwarded_from is None and party.failed_attempts == 0
        assert not party.shown_sha256 and not party.reason
    assert not Link.objects.filter(party__contract=draft).exists()

    # Boxes with their places, for the new parties, without values.
    boxes = {b.label: b for b in Box.objects.filter(document__contract=draft)}
    assert set(boxes) == {"住所", "氏名"}
    assert boxes["住所"].party == parties[0] and boxes["氏名"].party == parties[1]
    assert all(b.value == "" and b.filled_at is None for b in boxes.values())
    assert (boxes["住所"].x, boxes["住所"].width) == (60, 200)

    # Recorded on both, and the original is untouched.
    (made,) = Event.objects.filter(subject=draft.audit_subject, event="contract.duplicate")
    assert made.actor == personas.sender and made.detail["from"] == str(original.pk)
    assert Event.objects.filter(subject=original.audit_subject).count() == events_before + 1
    original.refresh_from_db()
    assert original.status == ContractStatus.REJECTED


def test_the_duplicate_is_sent_only_once_its_access_codes_are_set(personas):
    original = draft_contract(personas.sender, externals=[A])
    services.contract_send(contract=original, actor=personas.sender)
    services.contract_cancel(contract=original, actor=personas.sender, reason="宛先誤り")
    draft = contract_duplicate(contract=original, actor=personas.sender)
    with pytest.raises(ContractError) as refused:
        services.contract_send(contract=draft, actor=personas.sender)
    assert refused.value.code == "access_code_missing"
    assert A.name in refused.value.message
    party = draft.parties.get()
    party_set_access_code(party=party, actor=personas.sender, access_code="2468")
    services.contract_send(contract=draft, actor=personas.sender)
    assert enter_code(Client(), last_link(A.email), A.code).status_code == 400  # the old one
    assert enter_code(Client(), last_link(A.email), "2468").status_code == 302


def test_a_staff_party_who_may_no_longer_sign_stops_the_duplicate(personas):
    original = draft_contract(personas.sender, externals=[A], staff_signers=[personas.mayor])
    personas.mayor.is_active = False
    personas.mayor.save()
    with pytest.raises(ContractError) as refused:
        contract_duplicate(contract=original, actor=personas.sender)
    assert refused.value.code == "staff_role"
    assert Contract.objects.count() == 1


def test_a_double_click_on_duplicate_makes_one_draft(personas):
    original = draft_contract(personas.sender, externals=[A])
    client = Client()
    client.force_login(personas.sender)
    page = client.get(f"/contracts/{original.pk}/").content.decode()
    once = re.search(r'name="once" value="([0-9a-f]{32})"', page).group(1)
    answers = [
        client.post(f"/contracts/{original.pk}/duplicate/", {"once": once}) for _ in range(2)
    ]
    (draft,) = Contract.objects.exclude(pk=original.pk)
    assert {a["Location"] for a in answers} == {f"/contracts/{draft.pk}/"}
    # The next visit's form makes another.
    page = client.get(f"/contracts/{original.pk}/").content.decode()
    again = re.search(r'name="once" value="([0-9a-f]{32})"', page).group(1)
    client.post(f"/contracts/{original.pk}/duplicate/", {"once": again})
    assert Contract.objects.count() == 3
