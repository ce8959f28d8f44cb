"""Every webhook event comes from the real services at the moment they record it (R40): sent,
viewed, approved, agreed, completed, renewed, forwarded, cancelled, rejected, expired and
delivery_failed; each to the endpoints that chose it, of its own organisation only, with an
event id of its own and nothing that names a person or opens a link."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Event
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus, Party, PartyRole
from keiyaku.contracts.services.renewal import archive_renewal_run
from keiyaku.signing import archive
from keiyaku.webhooks.models import WebhookDelivery, WebhookEvent
from keiyaku.webhooks.services import webhook_endpoint_create
from tests.flow import External, agree, approver, draft_contract, last_link
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "4321")
OTHER = External("株式会社佐藤工務店", "佐藤 花子", "sato@example.jp", "8765")
ALL = list(WebhookEvent.values)


def events(receiver: Receiver) -> list[tuple[str, dict]]:
    """(type, data) of each event the receiver took, in order."""
    found = []
    for got in receiver.received:
        body = json.loads(got.body)
        assert got.headers["Keiyaku-Event-Type"] == body["type"]
        found.append((body["type"], body["data"]))
    return found


def assert_names_no_one(receiver: Receiver, *people: External) -> None:
    for got in receiver.received:
        text = got.body.decode()
        for person in people:
            for secret in (person.email, person.name, person.company, person.code):
                assert secret not in text, (secret, text)
        assert "/s/" not in text and "/d/" not in text and "token" not in text, text


@pytest.fixture
def everything(personas, receiver):
    """An endpoint of the organisation for every event, one for completions only, and one of
    the outsider organisation for every event (it must hear nothing)."""
    webhook_endpoint_create(
        organisation=personas.org, actor=personas.admin, name="全部", url=receiver.url, events=ALL
    )
    webhook_endpoint_create(
        organisation=personas.org,
        actor=personas.admin,
        name="締結だけ",
        url=receiver.url + "?only=completed",
        events=["completed"],
    )
    webhook_endpoint_create(
        organisation=personas.outsider_org,
        actor=personas.outsider,
        name="よその町",
        url=receiver.url + "?outsider",
        events=ALL,
    )
    return receiver


def for_all(receiver: Receiver) -> Receiver:
    """The receiver's requests to the every-event endpoint of the organisation."""
    return Receiver(received=[r for r in receiver.received if "?" not in r.path])


@pytest.mark.slow(seconds=12)
def test_sent_viewed_approved_agreed_completed_and_renewed(
    personas, everything, settings, short_tsa
):
    settings.KEIYAKU_TSA_URLS = [short_tsa.url]
    now = timezone.now()
    short_tsa.issue(now)
    boss = approver(personas, "kacho", "課長 承認")
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=boss, role=PartyRole.APPROVER
    )
    services.party_move(party=contract.parties.get(staff=boss), actor=personas.sender, offset=-1)
    services.contract_send(contract=contract, actor=personas.sender)
    staff = Client()
    staff.force_login(boss)
    link = last_link(boss.email)
    assert staff.get(link).status_code == 302  # opens the request: viewed
    assert staff.get(link).status_code == 302  # again: nothing new
    agree(staff, link)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED

    # Archival renewal (R21): the policy retires the key size the TSA used; a new TSA key.
    since = (now - dt.timedelta(days=settings.KEIYAKU_RENEWAL_SPREAD_DAYS + 1)).date()
    settings.KEIYAKU_RENEWAL_POLICY = archive.parse_retirements(f"rsa2048 after {since}")
    short_tsa.issue(now, key_size=3072)
    assert archive_renewal_run().renewed == 1

    got = events(for_all(everything))
    cid = str(contract.pk)
    approver_data = {"position": 1, "role": "approver", "kind": "staff", "forwarded": False}
    firm_data = {"position": 2, "role": "signer", "kind": "external", "forwarded": False}
    document = contract.documents.get()
    assert got == [
        ("sent", {"contract": {"id": cid, "status": "in_progress"}}),
        ("viewed", {"contract": {"id": cid, "status": "in_progress"}, "party": approver_data}),
        ("approved", {"contract": {"id": cid, "status": "in_progress"}, "party": approver_data}),
        ("viewed", {"contract": {"id": cid, "status": "in_progress"}, "party": firm_data}),
        ("agreed", {"contract": {"id": cid, "status": "in_progress"}, "party": firm_data}),
        ("completed", {"contract": {"id": cid, "status": "completed"}}),
        (
            "renewed",
            {
                "contract": {"id": cid, "status": "completed"},
                "document": {"id": document.pk, "version": document.current_version().seq},
            },
        ),
    ]
    only = [r for r in everything.received if r.path.endswith("?only=completed")]
    assert [json.loads(r.body)["type"] for r in only] == ["completed"]
    assert not [r for r in everything.received if r.path.endswith("?outsider")]
    ids = [json.loads(r.body)["id"] for r in everything.received]
    assert len(set(ids)) == len(ids) == WebhookDelivery.objects.count() == 8
    assert all(uuid.UUID(i) for i in ids)
    assert_names_no_one(everything, FIRM)
    # The first view is recorded once, as the history shows it.
    assert Event.objects.filter(event="party.view").count() == 2
    assert Party.objects.get(staff=boss).viewed_at is not None


def test_forwarded_then_cancelled(personas, everything):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    party = contract.parties.get()
    services.party_forward(party=party, name=OTHER.name, email=OTHER.email, meta=SYSTEM)
    services.contract_cancel(contract=contract, actor=personas.sender, reason="仕様変更のため")
    cid = str(contract.pk)
    assert events(for_all(everything)) == [
        ("sent", {"contract": {"id": cid, "status": "in_progress"}}),
        (
            "forwarded",
            {
                "contract": {"id": cid, "status": "in_progress"},
                "party": {"position": 1, "role": "signer", "kind": "external", "forwarded": False},
            },
        ),
        ("cancelled", {"contract": {"id": cid, "status": "cancelled"}}),
    ]
    assert_names_no_one(everything, FIRM, OTHER)


def test_rejected(personas, everything):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    services.party_reject(party=contract.parties.get(), reason="金額が違います", meta=SYSTEM)
    assert events(for_all(everything))[-1] == (
        "rejected",
        {
            "contract": {"id": str(contract.pk), "status": "rejected"},
            "party": {"position": 1, "role": "signer", "kind": "external", "forwarded": False},
        },
    )
    assert "金額が違います" not in everything.received[-1].body.decode()


def test_expired(personas, everything):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    contract.refresh_from_db()
    assert services.deadlines_check(now=contract.deadline + dt.timedelta(seconds=1))[1] == 1
    assert events(for_all(everything))[-1] == (
        "expired",
        {"contract": {"id": str(contract.pk), "status": "expired"}},
    )


def test_delivery_failed_when_the_relay_refuses_the_address(personas, everything, refusing_relay):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    assert events(for_all(everything))[-1] == (
        "delivery_failed",
        {
            "contract": {"id": str(contract.pk), "status": "in_progress"},
            "party": {"position": 1, "role": "signer", "kind": "external", "forwarded": False},
            "mail": "sign_request",
        },
    )
    assert_names_no_one(everything, FIRM)


def test_a_rolled_back_change_sends_nothing(personas, everything):
    contract = draft_contract(personas.sender, externals=[FIRM])
    with pytest.raises(RuntimeError), transaction.atomic():
        services.contract_cancel(contract=contract, actor=personas.sender, reason="取りやめ")
        raise RuntimeError("the caller's transaction fails after the cancel")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert everything.received == [] and not WebhookDelivery.objects.exists()
