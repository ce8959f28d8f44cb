"""Forwarding is bounded (finding: six hops between two addresses made seven party rows and six
mails to the sender). A position is forwarded at most KEIYAKU_MAX_FORWARDS times, and forwarded
rows count against KEIYAKU_MAX_PARTIES; the link to forward disappears when no forward is left.
"""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus, PartyStatus
from tests.flow import External, agree, draft_contract, enter_code, last_link, mails_to

pytestmark = pytest.mark.django_db(transaction=True)

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
B = External("株式会社髙橋建設", "髙橋 花子", "hanako@example.jp", "2468")
FORWARD_LINK = "この書類を転送する"


def forward_to(person: External, target: External):
    """Open `person`'s newest link and forward it to `target`; the documents page and the
    answer to the forward."""
    client = Client()
    link = last_link(person.email)
    enter_code(client, link, person.code)
    documents = client.get(link + "documents/").content.decode()
    response = client.post(
        link + "forward/",
        {"company": target.company, "name": target.name, "email": target.email},
    )
    assert response.status_code != 500
    return documents, response.content.decode()


def forwarded_mails(personas) -> int:
    return sum("転送されました" in mail.subject for mail in mails_to(personas.sender.email))


def test_forwarding_back_and_forth_stops_at_the_limit(personas, settings):
    settings.KEIYAKU_MAX_FORWARDS = 3
    contract = draft_contract(personas.sender, externals=[A])
    services.contract_send(contract=contract, actor=personas.sender)

    forwarded = 0
    holder, other = A, B
    for _ in range(6):
        documents, answer = forward_to(holder, other)
        if "転送しました" not in answer:
            break
        assert FORWARD_LINK in documents
        forwarded += 1
        holder, other = other, holder

    assert forwarded == 3
    assert FORWARD_LINK not in documents  # the page no longer offers it
    assert "この署名依頼はこれ以上転送できません（転送は3回までです）。" in answer
    assert contract.parties.count() == 4
    assert forwarded_mails(personas) == 3
    # The last one asked can still sign, and the contract completes.
    agree(Client(), last_link(holder.email), holder.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    assert list(contract.parties.values_list("status", flat=True)) == [
        PartyStatus.FORWARDED,
        PartyStatus.FORWARDED,
        PartyStatus.FORWARDED,
        PartyStatus.SIGNED,
    ]


def test_forwarded_rows_count_against_the_party_limit(personas, settings):
    settings.KEIYAKU_MAX_PARTIES = 2
    contract = draft_contract(personas.sender, externals=[A])
    services.contract_send(contract=contract, actor=personas.sender)

    documents, answer = forward_to(A, B)
    assert FORWARD_LINK in documents and "転送しました" in answer
    documents, answer = forward_to(B, A)

    assert FORWARD_LINK not in documents
    assert "署名者の数が上限（2名）に達しているため、転送できません。" in answer
    assert contract.parties.count() == 2
    assert forwarded_mails(personas) == 1
