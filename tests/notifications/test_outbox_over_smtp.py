"""The outbox against a real SMTP server (aiosmtpd on loopback): one Message-ID per outbox
message across its delivery attempts, and one delivery at a time (issue 11, acceptance 3)."""

from __future__ import annotations

import asyncio
import email
import threading
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.db import connection, transaction

from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from keiyaku.notifications.services import mail_deliver, mail_queue, outbox_message_id
from tests.production_cluster.cluster import free_port

pytestmark = pytest.mark.django_db(transaction=True)


class Relay:
    """Records the Message-ID of every DATA it is given. `refuse` first DATAs are answered
    451 (try again later); with `hold` set, the first accepted DATA waits for `release`."""

    def __init__(self, *, refuse: int = 0, hold: bool = False) -> None:
        self.refuse = refuse
        self.hold = hold
        self.held = threading.Event()
        self.release = threading.Event()
        self.offered: list[str] = []
        self.accepted: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        message_id = str(
            email.message_from_bytes(envelope.content, policy=policy.default)["Message-ID"]
        )
        self.offered.append(message_id)
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        if self.hold:
            self.hold = False
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        self.accepted.append(message_id)
        return "250 OK"


@pytest.fixture
def relay_for(settings):
    controllers: list[Controller] = []

    def start(relay: Relay) -> Relay:
        controller = Controller(relay, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        settings.EMAIL_USE_TLS = False
        settings.DEFAULT_FROM_EMAIL = "keiyaku <no-reply@keiyaku.city.example.jp>"
        return relay

    yield start
    for controller in controllers:
        controller.stop()


def queued(personas) -> OutboxMessage:
    """An outbox message whose on-commit delivery is not run (its job "was lost")."""
    with transaction.atomic():
        message = mail_queue(
            organisation=personas.org,
            to="someone@example.jp",
            template="rejected",
            context={
                "contract": {"title": "テスト案件"},
                "sender": personas.sender,
                "party": {"company": "A社", "name": "甲", "email": "a@example.jp"},
                "reason": "理由",
                "url": "http://127.0.0.1/",
            },
        )
        transaction.get_connection().run_on_commit = []
    return message


def test_each_delivery_attempt_of_one_message_carries_the_same_message_id(personas, relay_for):
    relay = relay_for(Relay(refuse=1))
    message = queued(personas)
    with pytest.raises(Exception, match="451"):
        mail_deliver(message_id=message.pk)  # a temporary failure: retried later
    assert mail_deliver(message_id=message.pk) is True
    message.refresh_from_db()
    expected = outbox_message_id(message)
    assert relay.offered == [expected, expected]
    assert relay.accepted == [expected]
    assert expected.startswith(f"<outbox-{message.pk}.")
    assert expected.endswith("@keiyaku.city.example.jp>")


def test_a_message_being_delivered_is_not_delivered_again_meanwhile(personas, relay_for):
    """The sweeper (retry_pending_mail) or a second job found the message still pending while
    a consumer was in the middle of sending it: before, both sent it."""
    relay = relay_for(Relay(hold=True))
    message = queued(personas)
    first: list[bool] = []

    def deliver() -> None:
        try:
            first.append(mail_deliver(message_id=message.pk))
        finally:
            connection.close()

    sending = threading.Thread(target=deliver)
    sending.start()
    assert relay.held.wait(timeout=30), "the first delivery never reached the relay"
    assert mail_deliver(message_id=message.pk) is False  # somebody is sending it
    relay.release.set()
    sending.join(timeout=30)
    assert first == [True]
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert relay.accepted == [outbox_message_id(message)]


def test_a_message_whose_job_was_lost_goes_out_with_the_next_minutes_sweep(
    personas, relay_for, settings
):
    """A web process killed between its commit and queueing the job, or a consumer killed with
    the job in hand: the message stays pending with no error. The once-a-minute periodic work
    sends it (before, only the five-minute retry did)."""
    from huey.contrib.djhuey import HUEY

    import keiyaku.contracts.tasks
    import keiyaku.notifications.tasks  # noqa: F401 - the periodic tasks, as run_huey loads them

    settings.KEIYAKU_SWEEP_AFTER_SECONDS = 15
    relay = relay_for(Relay())
    message = queued(personas)
    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=message.created_at - timedelta(seconds=16)
    )
    # Huey asks with naive UTC times (utc=True); a minute that is no multiple of five.
    due = HUEY.read_periodic(datetime(2026, 11, 30, 10, 1, tzinfo=UTC).replace(tzinfo=None))
    assert due
    for task in due:
        HUEY.execute(task)
        HUEY.execute(task)
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert relay.accepted == [outbox_message_id(message)]
