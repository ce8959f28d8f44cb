"""The platform operator's status page: queue depth, failed jobs, undelivered mail."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from keiyaku.accounts.models import Staff
from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from keiyaku.notifications.services import MAX_ATTEMPTS, mail_deliver, mail_queue

pytestmark = pytest.mark.django_db(transaction=True)


@HUEY.task(retries=0)
def _job_that_fails() -> None:
    raise RuntimeError("the archive folder is full")


@pytest.fixture
def operator() -> Client:
    staff = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-operator-1")
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def no_relay(settings) -> None:
    """A real SMTP back end pointed at a loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2


def queue(personas, to: str) -> OutboxMessage:
    with transaction.atomic():
        return mail_queue(
            organisation=personas.org,
            to=to,
            template="rejected",
            context={
                "contract": {"title": "秘密の案件"},
                "sender": personas.sender,
                "party": {"company": "A社", "name": "甲", "email": to},
                "reason": "理由",
                "url": "http://127.0.0.1/",
            },
        )


def test_the_operator_sees_failed_jobs_and_undelivered_mail(operator, personas, no_relay):
    HUEY.storage.flush_results()
    _job_that_fails()  # run at once (immediate mode); Huey keeps its final error

    failed = queue(personas, "failed@example.jp")
    for _ in range(MAX_ATTEMPTS):
        try:
            mail_deliver(message_id=failed.pk)
        except OSError:
            pass
    late = queue(personas, "late@example.jp")
    OutboxMessage.objects.filter(pk=late.pk).update(
        created_at=timezone.now() - timedelta(minutes=30)
    )
    queue(personas, "recent@example.jp")  # pending, not late yet
    assert OutboxMessage.objects.get(pk=failed.pk).status == OutboxStatus.FAILED

    try:
        page = operator.get("/operator/status/")
    finally:
        HUEY.storage.flush_results()
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="failed-job-count">1<' in html and "the archive folder is full" in html
    assert 'id="mail-failed-count">1<' in html and 'id="mail-late-count">1<' in html
    assert 'id="queue-pending">0<' in html
    assert personas.org.name in html and "Connection refused" in html
    for private in ("failed@example.jp", "late@example.jp", "秘密の案件"):
        assert private not in html


def test_the_page_is_for_the_platform_operator_only(personas):
    client = Client()
    assert client.get("/operator/status/").status_code == 302  # to the login page
    client.force_login(personas.admin)
    assert client.get("/operator/status/").status_code == 403


def test_the_operators_menu_links_the_page(operator):
    assert 'href="/operator/status/"' in operator.get("/admin-org/organisations/").content.decode()
