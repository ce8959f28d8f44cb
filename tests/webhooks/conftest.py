from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from tests.contracts.renewal_setup import short_tsa
from tests.loopback_http import free_port
from tests.webhooks.receiver import Receiver, webhook_receiver

__all__ = ["receiver", "refusing_relay", "short_tsa"]


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A webhook receiver on loopback, which the operator's allow-list lets keiyaku call."""
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    with webhook_receiver() as running:
        yield running


class _Refuser:
    """An SMTP server that knows none of the recipients (550), as a relay does for a typo."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


@pytest.fixture
def refusing_relay(settings) -> Iterator[None]:
    controller = Controller(_Refuser(), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    yield
    controller.stop()
