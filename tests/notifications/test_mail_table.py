"""Who gets which mail (issue 14): every cell of `mail_table.MAIL_TABLE`, after each event.

Each test runs one real event through the services and reads the mails that were captured
since; every person of the contract is classified by recipient kind, and each must have got
exactly the mail its cell names (or none). A kind that cannot exist at an event (nobody has
forwarded before the contract is sent) must have an empty cell; the test says why.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.test import Client

from keiyaku.applications.services import Answers, application_send, application_submit
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.mail_table import MAIL_TABLE, MailEvent, Recipient, recipient_kind
from keiyaku.contracts.models import Contract, Party
from keiyaku.contracts.report import JST
from keiyaku.contracts.services.renewal_alerts import renewal_alerts_send
from keiyaku.contracts.services.term import contract_term_change
from keiyaku.notifications.models import CapturedMail, OutboxMessage
from tests.flow import External, agree, approver, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)

E, S, A, F, T, D, N = (
    Recipient.EXTERNAL_SIGNER,
    Recipient.STAFF_SIGNER,
    Recipient.APPROVER,
    Recipient.FORWARDER,
    Recipient.FORWARDED_TO,
    Recipient.SENDER,
    Recipient.NEVER_REACHED,
)

SIGNER = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
FORWARDER = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")
LATER = External("鈴木設備株式会社", "鈴木 三郎", "suzuki@example.jp", "3333")
SUCCESSOR_EMAIL = "kimura@sato.example.jp"


class Outbox:
    """The mails captured from a point on: address → the templates (outbox kinds) it got."""

    def __init__(self) -> None:
        self.since = OutboxMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.captured_since = (
            CapturedMail.objects.order_by("-id").values_list("id", flat=True).first() or 0
        )

    def got(self) -> dict[str, list[str]]:
        sent = OutboxMessage.objects.filter(id__gt=self.since).order_by("id")
        captured = CapturedMail.objects.filter(id__gt=self.captured_since)
        # Every queued mail was delivered (captured), with its own subject.
        assert sorted((m.to, m.subject) for m in sent) == sorted(
            (m.to, m.subject) for m in captured
        )
        result: dict[str, list[str]] = {}
        for message in sent:
            result.setdefault(message.to, []).append(message.kind)
        return result


def check(
    event: MailEvent,
    outbox: Outbox,
    concerned: dict[Recipient, list[str]],
    *,
    impossible: dict[Recipient, str],
    bystanders: tuple[str, ...] = (),
) -> None:
    """Each concerned address got exactly its cell's mail; bystanders (parties a request event
    does not ask) got nothing; every kind is either present or said to be impossible."""
    got = outbox.got()
    for kind in Recipient:
        cell = MAIL_TABLE[event][kind]
        if kind in impossible:
            assert kind not in concerned, kind
            assert cell is None, f"{event}/{kind}: {impossible[kind]}, yet the table names {cell}"
            continue
        assert concerned.get(kind), f"{event}/{kind} is not exercised"
        for address in concerned[kind]:
            assert got.pop(address, []) == ([cell] if cell else []), (event, kind, address)
    for address in bystanders:
        assert got.pop(address, []) == [], (event, "bystander", address)
    assert got == {}, f"{event}: mail to nobody the table knows: {got}"


def kinds(contract: Contract) -> dict[Recipient, list[str]]:
    """Every party and the sender by recipient kind, as the table's consumers classify them."""
    result: dict[Recipient, list[str]] = {D: [contract.created_by.email]}
    for party in contract.parties.order_by("position", "id"):
        result.setdefault(recipient_kind(party), []).append(party.email)
    return result


def routing_sent(personas) -> Contract:
    """Sent: one step of an approver, two counterparties and the mayor, then a counterparty
    the routing has not reached."""
    contract = draft_contract(personas.sender)
    chief = approver(personas, "chief", "課長 一")
    add = services.party_add
    add(contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver")
    for ext in (SIGNER, FORWARDER):
        add(
            contract=contract,
            actor=personas.sender,
            kind="external",
            company=ext.company,
            name=ext.name,
            email=ext.email,
            access_code=ext.code,
            parallel=True,
        )
    add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor, parallel=True)
    add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=LATER.company,
        name=LATER.name,
        email=LATER.email,
        access_code=LATER.code,
    )
    services.contract_send(contract=contract, actor=personas.sender)
    return contract


def forward(contract: Contract) -> Party:
    return services.party_forward(
        party=contract.parties.get(email=FORWARDER.email),
        name="木村 四郎",
        email=SUCCESSOR_EMAIL,
        company=FORWARDER.company,
        note="担当が変わりました。",
        meta=SYSTEM,
    )


def forwarded_routing(personas) -> Contract:
    """`routing_sent`, then the second counterparty forwarded its request: every kind of
    recipient is present (approver, counterparty, staff signer, forwarder, forwarded to, a
    party never reached, the sender)."""
    contract = routing_sent(personas)
    forward(contract)
    present = kinds(contract)
    assert set(present) == set(Recipient)
    return contract


ALL_PRESENT: dict[Recipient, str] = {}


def test_sent_mails(personas):
    contract = draft_contract(personas.sender)
    chief = approver(personas, "chief", "課長 一")
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver"
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=SIGNER.company,
        name=SIGNER.name,
        email=SIGNER.email,
        access_code=SIGNER.code,
        parallel=True,
    )
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor, parallel=True
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=LATER.company,
        name=LATER.name,
        email=LATER.email,
        access_code=LATER.code,
    )
    outbox = Outbox()
    services.contract_send(contract=contract, actor=personas.sender)
    check(
        MailEvent.SENT,
        outbox,
        {A: [chief.email], E: [SIGNER.email], S: [personas.mayor.email], N: [LATER.email],
         D: [personas.sender.email]},
        impossible={F: "nobody forwards before sending", T: "nobody forwards before sending"},
    )  # fmt: skip


def test_forwarded_mails(personas):
    contract = routing_sent(personas)
    outbox = Outbox()
    forward(contract)
    check(MailEvent.FORWARDED, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_reminder_mails(personas):
    contract = forwarded_routing(personas)
    outbox = Outbox()
    assert services.contract_remind(contract=contract, actor=personas.sender) == 4
    check(MailEvent.REMINDER, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_readdressed_mails(personas):
    contract = forwarded_routing(personas)
    signer = contract.parties.get(email=SIGNER.email)
    successor = contract.parties.get(email=SUCCESSOR_EMAIL)
    for party in contract.parties.filter(kind="staff"):  # staff have no address to correct
        with pytest.raises(ContractError):
            services.party_change_email(party=party, actor=personas.sender, email="x@example.jp")
    outbox = Outbox()
    services.party_change_email(party=signer, actor=personas.sender, email="new@takahashi.jp")
    services.party_change_email(party=successor, actor=personas.sender, email="new@kimura.jp")
    present = kinds(contract)
    check(
        MailEvent.READDRESSED,
        outbox,
        {E: ["new@takahashi.jp"], T: ["new@kimura.jp"], D: present[D]},
        impossible={
            S: "only a counterparty's address is corrected",
            A: "only a counterparty's address is corrected",
            F: "a forwarder has acted: its address cannot be corrected",
            N: "a party not asked yet gets its request when its turn comes",
        },
        bystanders=tuple(present[S] + present[A] + present[F] + present[N]),
    )


def test_party_locked_mails(personas, settings):
    contract = forwarded_routing(personas)
    outbox = Outbox()
    client = Client()
    for _ in range(settings.KEIYAKU_ACCESS_CODE_ATTEMPTS):
        client.post(last_link(SIGNER.email), {"code": "0000"})
    assert contract.parties.get(email=SIGNER.email).is_locked
    check(MailEvent.PARTY_LOCKED, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_deadline_changed_mails(personas):
    contract = forwarded_routing(personas)
    outbox = Outbox()
    contract.refresh_from_db()
    assert contract.deadline is not None
    services.contract_deadline_change(
        contract=contract, actor=personas.sender, deadline=contract.deadline + timedelta(days=3)
    )
    check(MailEvent.DEADLINE_CHANGED, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_approved_mails(personas):
    contract = forwarded_routing(personas)
    outbox = Outbox()
    chief = contract.parties.get(role="approver")
    client = Client()
    client.force_login(chief.staff)
    agree(client, last_link(chief.email))
    chief.refresh_from_db()
    assert chief.is_done
    check(MailEvent.APPROVED, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_rejected_mails(personas):
    contract = forwarded_routing(personas)
    outbox = Outbox()
    services.party_reject(
        party=contract.parties.get(email=SUCCESSOR_EMAIL), reason="金額が違います", meta=SYSTEM
    )
    check(MailEvent.REJECTED, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_cancelled_mails(personas):
    contract = forwarded_routing(personas)
    outbox = Outbox()
    services.contract_cancel(contract=contract, actor=personas.sender, reason="入札のやり直し")
    check(MailEvent.CANCELLED, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_expired_mails(personas):
    contract = forwarded_routing(personas)
    contract.refresh_from_db()
    outbox = Outbox()
    assert services.deadlines_check(now=contract.deadline + timedelta(seconds=1)) == (0, 1)
    check(MailEvent.EXPIRED, outbox, kinds(contract), impossible=ALL_PRESENT)


def test_completed_mails_then_renewal_due_mails(personas):
    """Every party of every kind signed or approved (one forwarded): everybody is told. Later
    its period nears its end: only the senders of its department are told (R31)."""
    contract = forwarded_routing(personas)
    chief = contract.parties.get(role="approver")
    mayor = Client()
    mayor.force_login(personas.mayor)
    approving = Client()
    approving.force_login(chief.staff)
    agree(approving, last_link(chief.email))
    agree(Client(), last_link(SIGNER.email), SIGNER.code)
    agree(mayor, last_link(personas.mayor.email))
    agree(Client(), last_link(SUCCESSOR_EMAIL), FORWARDER.code)  # the routing asks LATER
    outbox = Outbox()
    agree(Client(), last_link(LATER.email), LATER.code)
    contract.refresh_from_db()
    assert contract.is_concluded
    check(
        MailEvent.COMPLETED,
        outbox,
        kinds(contract),
        impossible={N: "every party has been reached when a contract completes"},
    )
    contract_term_change(
        contract=contract,
        actor=personas.sender,
        period_start=date(2026, 4, 1),
        period_end=date(2027, 3, 31),
        auto_renew=False,
        notice_deadline=None,
    )
    outbox = Outbox()
    assert renewal_alerts_send(now=datetime(2027, 3, 1, 9, tzinfo=JST)) == 1
    check(
        MailEvent.RENEWAL_DUE,
        outbox,
        kinds(contract),  # the sender is the only sender of the contract's department
        impossible={N: "every party has been reached when a contract completes"},
    )


def test_next_turn_mails(personas):
    """The first step's agreement done, the routing asks each party of the next step."""
    contract = draft_contract(personas.sender, externals=[SIGNER])
    chief = approver(personas, "chief", "課長 一")
    add = services.party_add
    add(contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver")
    add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor, parallel=True)
    add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=LATER.company,
        name=LATER.name,
        email=LATER.email,
        access_code=LATER.code,
        parallel=True,
    )
    services.contract_send(contract=contract, actor=personas.sender)
    outbox = Outbox()
    agree(Client(), last_link(SIGNER.email), SIGNER.code)
    check(
        MailEvent.NEXT_TURN,
        outbox,
        {A: [chief.email], S: [personas.mayor.email], E: [LATER.email], D: [personas.sender.email]},
        impossible={
            F: "a forwarder is never asked again",
            T: "a forwarded-to party is asked by the forward, never by the routing",
            N: "the party the routing reaches is asked by it",
        },
        bystanders=(SIGNER.email,),
    )


def test_application_sent_and_application_submitted_mails(personas):
    contract = draft_contract(personas.sender)
    outbox = Outbox()
    application = application_send(
        contract=contract, actor=personas.sender, company="株式会社髙橋建設", email=SIGNER.email
    )
    never = "the company is not a party yet: there is nobody else"
    only_sender = {k: never for k in (S, A, F, T, N)}
    check(
        MailEvent.APPLICATION_SENT,
        outbox,
        {E: [SIGNER.email], D: [personas.sender.email]},
        impossible=only_sender,
    )
    outbox = Outbox()
    application_submit(
        application=application,
        answers=Answers(
            company="株式会社髙橋建設",
            title="代表取締役",
            name=SIGNER.name,
            email=SIGNER.email,
            access_code=SIGNER.code,
        ),
    )
    check(
        MailEvent.APPLICATION_SUBMITTED,
        outbox,
        {D: [personas.sender.email]},
        impossible={E: "the company answered; it is added as a party of the draft", **only_sender},
        bystanders=(SIGNER.email,),
    )


def test_every_event_has_its_test():
    """A new event in the table needs a test here that runs it."""
    tested = {name for name in globals() if name.startswith("test_")}
    for event in MailEvent:
        assert any(event.value in name for name in tested), event
