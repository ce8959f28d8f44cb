"""The state machine has one home (keiyaku/contracts/states.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import Party
from keiyaku.contracts.services.notify import party_notify
from keiyaku.contracts.states import PartyStatus
from keiyaku.notifications.models import CapturedMail
from tests.flow import External, agree, draft_contract, last_link

# --- the request is sent only from a state that allows it -----------------------------------

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")


@pytest.mark.django_db(transaction=True)
def test_a_signed_party_is_not_notified_again(personas):
    contract = draft_contract(personas.sender, externals=[A, B])
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(A.email), A.code)
    party = Party.objects.get(contract=contract, email=A.email)
    assert party.status == PartyStatus.SIGNED
    mails, links = CapturedMail.objects.count(), party.links.count()

    party_notify(party=party)

    party.refresh_from_db()
    assert party.status == PartyStatus.SIGNED
    assert (CapturedMail.objects.count(), party.links.count()) == (mails, links)


@pytest.mark.django_db(transaction=True)
def test_no_party_is_notified_in_a_finished_contract(personas):
    contract = draft_contract(personas.sender, externals=[A, B])
    services.contract_send(contract=contract, actor=personas.sender)
    services.contract_cancel(contract=contract, actor=personas.sender, reason="入札のやり直し")
    waiting = Party.objects.get(contract=contract, email=B.email)
    asked = Party.objects.get(contract=contract, email=A.email)
    mails = CapturedMail.objects.count()

    party_notify(party=waiting)
    party_notify(party=asked, template="reminder")

    assert {p.email: p.status for p in contract.parties.all()} == {
        A.email: PartyStatus.NOTIFIED,
        B.email: PartyStatus.WAITING,
    }
    assert CapturedMail.objects.count() == mails
    assert not waiting.links.exists()


@pytest.mark.django_db(transaction=True)
def test_a_waiting_party_is_asked_once(personas):
    """Two runs of the routing at once (parallel agreements) ask the next party once."""
    contract = draft_contract(personas.sender, externals=[A, B])
    services.contract_send(contract=contract, actor=personas.sender)
    # Each run read the party while it was still waiting.
    first, second = (Party.objects.get(contract=contract, email=B.email) for _ in range(2))

    party_notify(party=first)
    party_notify(party=second)

    first.refresh_from_db()
    assert first.status == PartyStatus.NOTIFIED
    assert CapturedMail.objects.filter(to=B.email).count() == 1
    assert first.links.count() == 1
