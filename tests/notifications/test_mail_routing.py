"""A trial organisation's mail is captured; a real organisation's goes out by SMTP (R9, R46)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from keiyaku.accounts.models import Role
from keiyaku.accounts.services import organisation_create, staff_create, staff_invite
from keiyaku.notifications.models import CapturedMail, OutboxMessage, OutboxStatus
from tests.contracts.test_delivery import Relay
from tests.loopback_http import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relay(settings):
    """A real SMTP server on loopback, configured as the deployment's relay."""
    handler = Relay(refused=set())
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.KEIYAKU_MAIL_CAPTURE = "trial"
    yield handler
    controller.stop()


def trial_organisation():
    trial = organisation_create(name="練習市", slug="practice", is_trial=True)
    admin = staff_create(
        organisation=trial,
        username="practice-admin",
        password="correct horse battery",
        display_name="練習 管理者",
        email="admin@practice.example.jp",
        roles=[Role.ADMIN, Role.SENDER],
    )
    return trial, admin


def invite(organisation, actor, email: str) -> None:
    staff_invite(
        organisation=organisation,
        actor=actor,
        username=email.split("@")[0],
        display_name="新人",
        email=email,
        department=None,
        roles=[Role.SENDER],
    )


def test_the_trial_organisations_mail_is_captured_beside_a_real_one_sent_by_smtp(personas, relay):
    trial, trial_admin = trial_organisation()
    invite(personas.org, personas.admin, "real-newcomer@city.example.jp")
    invite(trial, trial_admin, "trial-newcomer@practice.example.jp")

    assert relay.body_to("real-newcomer@city.example.jp")  # went out over SMTP
    assert not CapturedMail.objects.filter(to="real-newcomer@city.example.jp").exists()

    assert not relay.body_to("trial-newcomer@practice.example.jp")  # never sent
    captured = CapturedMail.objects.get(to="trial-newcomer@practice.example.jp")
    assert captured.organisation == trial and "/welcome/" in captured.body
    assert {m.status for m in OutboxMessage.objects.all()} == {OutboxStatus.SENT}


def test_capture_all_keeps_even_a_real_organisations_mail(personas, relay, settings):
    settings.KEIYAKU_MAIL_CAPTURE = "all"
    invite(personas.org, personas.admin, "real-newcomer@city.example.jp")
    assert not relay.body_to("real-newcomer@city.example.jp")
    assert CapturedMail.objects.get(to="real-newcomer@city.example.jp").organisation == personas.org


def test_a_trial_organisations_password_reset_is_captured_too(personas, relay):
    trial, trial_admin = trial_organisation()
    Client().post("/password-reset/", {"email": "admin@practice.example.jp"})
    Client().post("/password-reset/", {"email": "sender@city.example.jp"})

    assert not relay.body_to("admin@practice.example.jp")
    mail = CapturedMail.objects.get(to="admin@practice.example.jp")
    assert mail.organisation == trial and "/password-reset/" in mail.body
    assert relay.body_to("sender@city.example.jp")
    assert not CapturedMail.objects.filter(to="sender@city.example.jp").exists()
