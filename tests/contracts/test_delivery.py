"""Issue 3, acceptance 4: an SMTP server on loopback refuses one recipient; the sender re-addresses."""

from __future__ import annotations

import email
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus
from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from tests.flow import URL_RE, External, agree, draft_contract
from tests.loopback_http import free_port

pytestmark = pytest.mark.django_db(transaction=True)

WRONG = "takahasi@example.jp"  # a typo: the relay answers 550
RIGHT = "takahashi@example.jp"
FIRM = External("株式会社髙橋建設", "髙橋 一郎", WRONG, "2468")


class Relay:
    """A real SMTP server (aiosmtpd) that refuses one recipient."""

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 Message accepted"

    def body_to(self, address: str) -> list[str]:
        bodies = []
        for rcpts, message in self.messages:
            if address in rcpts:
                part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
                bodies.append(part.get_payload(decode=True).decode())
        return bodies


@pytest.fixture
def relay(settings):
    handler = Relay(refused={WRONG})
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    yield handler
    controller.stop()


def test_refused_recipient_shows_and_the_corrected_address_completes(personas, relay):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    failed = OutboxMessage.objects.get(to=WRONG)
    assert failed.status == OutboxStatus.FAILED  # a 5xx is final: no endless retries
    assert "550" in failed.last_error

    staff = Client()
    staff.force_login(personas.sender)
    assert 'data-testid="undelivered"' in staff.get("/").content.decode()
    detail = staff.get(f"/contracts/{contract.pk}/").content.decode()
    assert "配信できなかった" in detail and "550" in detail

    party = contract.parties.get()
    response = staff.post(f"/contracts/{contract.pk}/parties/{party.pk}/email/", {"email": RIGHT})
    assert response.status_code == 302
    (body,) = relay.body_to(RIGHT)
    assert 'data-testid="undelivered"' not in staff.get("/").content.decode()

    agree(Client(), URL_RE.findall(body)[0], FIRM.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED  # without cancelling anything
    assert any(
        "電子署名完了のお知らせ" in m["Subject"] or "=?utf-8?" in m["Subject"]
        for _, m in relay.messages
    )
