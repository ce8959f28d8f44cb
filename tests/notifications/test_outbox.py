"""E-mail goes through the outbox: kept with the event, retried on failure, sent once."""

from __future__ import annotations

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from keiyaku.notifications.models import CapturedMail, OutboxMessage, OutboxStatus
from keiyaku.notifications.services import mail_deliver, mail_queue

pytestmark = pytest.mark.django_db(transaction=True)

FAILURES = {"left": 0}


class FlakyBackend(BaseEmailBackend):
    """Refuses while FAILURES["left"] > 0, then hands over to the capture back end."""

    def send_messages(self, messages):
        if FAILURES["left"] > 0:
            FAILURES["left"] -= 1
            raise ConnectionRefusedError("SMTP relay unavailable")
        from keiyaku.notifications.mailbox import CaptureBackend

        return CaptureBackend().send_messages(messages)


def queue(personas) -> OutboxMessage:
    with transaction.atomic():
        return mail_queue(
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


def test_failed_delivery_stays_pending_with_the_error_then_is_sent_once(personas, settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FAILURES["left"] = 10  # the on-commit delivery fails
    message = queue(personas)
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert "SMTP relay unavailable" in message.last_error
    assert CapturedMail.objects.count() == 0

    FAILURES["left"] = 0  # the relay is back: the retry delivers
    assert mail_deliver(message_id=message.pk) is True
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and message.last_error == ""
    assert mail_deliver(message_id=message.pk) is False  # a late duplicate job sends nothing
    assert CapturedMail.objects.filter(to="someone@example.jp").count() == 1


def test_rolled_back_event_sends_nothing(personas):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue(personas)
        raise RuntimeError("the event failed")
    assert OutboxMessage.objects.count() == 0 and CapturedMail.objects.count() == 0
