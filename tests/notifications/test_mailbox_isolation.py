"""The mailbox shows captured mail only to staff of the organisation it concerns (R1, R46).

Organisation A (テスト市) has a new admin's first-password mail, a company's application link and
a completion mail with the signed PDF attached; organisation B (よそ町) has mail of its own.
Nobody of B may read A's mail or download its attachments; within A, the first-password link is
for the admins only; the platform operator reads everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client

from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.services import organisation_create, staff_create, staff_invite
from keiyaku.applications.services import application_send
from keiyaku.contracts import services
from keiyaku.notifications.models import CapturedAttachment, CapturedMail
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)

WELCOME_RE = re.compile(r"/welcome/[^/\s]+/[^/\s]+/")
APPLICATION_RE = re.compile(r"/a/[A-Za-z0-9_-]+/")


@dataclass
class World:
    a_welcome: str  # the first-password link of A's new admin
    a_application: str  # the application form link A sent to a company
    a_attachment: int  # a signed PDF attached to A's completion mail
    b_welcome: str
    b_admin: Staff
    b_sender: Staff
    b_viewer: Staff


def _link(address: str, pattern: re.Pattern[str]) -> str:
    mail = CapturedMail.objects.filter(to=address).get()
    found = pattern.search(mail.body)
    assert found, mail.body
    return found.group(0)


@pytest.fixture
def world(personas) -> World:
    staff_invite(
        organisation=personas.org,
        actor=personas.admin,
        username="a-new-admin",
        display_name="新任 管理者",
        email="new-admin@city.example.jp",
        department=None,
        roles=[Role.ADMIN, Role.SENDER],
    )
    draft = draft_contract(personas.sender, title="河川護岸工事 請負契約")
    application_send(
        contract=draft,
        actor=personas.sender,
        company="株式会社髙橋建設",
        email="office@a.example.jp",
    )
    done = draft_contract(
        personas.sender, externals=[External("株式会社秘密建設", "甲 太郎", "firm@a.example.jp")]
    )
    services.contract_send(contract=done, actor=personas.sender)
    agree(Client(), last_link("firm@a.example.jp"), "1234")
    attachment = CapturedAttachment.objects.filter(mail__to="firm@a.example.jp").first()
    assert attachment is not None

    b = personas.outsider_org
    b_sender = staff_create(
        organisation=b,
        username="b-sender",
        password=personas.password,
        display_name="よそ 担当",
        email="sender@other-town.example.jp",
        roles=[Role.SENDER],
    )
    b_viewer = staff_create(
        organisation=b,
        username="b-viewer",
        password=personas.password,
        display_name="よそ 閲覧",
        email="viewer@other-town.example.jp",
        roles=[Role.VIEWER],
    )
    staff_invite(
        organisation=b,
        actor=personas.outsider,
        username="b-new",
        display_name="よそ 新人",
        email="new@other-town.example.jp",
        department=None,
        roles=[Role.SENDER],
    )
    return World(
        a_welcome=_link("new-admin@city.example.jp", WELCOME_RE),
        a_application=_link("office@a.example.jp", APPLICATION_RE),
        a_attachment=attachment.pk,
        b_welcome=_link("new@other-town.example.jp", WELCOME_RE),
        b_admin=personas.outsider,
        b_sender=b_sender,
        b_viewer=b_viewer,
    )


def mailbox_as(staff: Staff) -> str:
    client = Client()
    client.force_login(staff)
    response = client.get("/mailbox/")
    assert response.status_code == 200
    return response.content.decode()


def attachment_status(staff: Staff, attachment_id: int) -> int:
    client = Client()
    client.force_login(staff)
    return client.get(f"/mailbox/attachments/{attachment_id}/").status_code


def test_another_organisations_staff_see_none_of_its_mail(world):
    for staff in (world.b_admin, world.b_sender, world.b_viewer):
        page = mailbox_as(staff)
        assert world.a_welcome not in page, staff.username
        assert world.a_application not in page, staff.username
        assert "new-admin@city.example.jp" not in page and "firm@a.example.jp" not in page
        assert "office@a.example.jp" not in page
    assert world.b_welcome in mailbox_as(world.b_admin)


def test_another_organisations_attachment_is_404(personas, world):
    for staff in (world.b_admin, world.b_sender, world.b_viewer):
        assert attachment_status(staff, world.a_attachment) == 404, staff.username
    assert attachment_status(personas.sender, world.a_attachment) == 200
    assert attachment_status(personas.admin, world.a_attachment) == 200


def test_the_first_password_link_is_for_the_organisations_admins_only(personas, world):
    assert world.a_welcome in mailbox_as(personas.admin)
    for staff in (personas.sender, personas.viewer, personas.mayor):
        assert world.a_welcome not in mailbox_as(staff), staff.username


def test_counterparty_mail_is_for_the_staff_who_handle_the_contract(personas, world):
    # The sender reads the company's link (what a trial is for); a viewer of the same department
    # may read the contract but not act as its counterparty.
    assert world.a_application in mailbox_as(personas.sender)
    assert world.a_application in mailbox_as(personas.admin)
    assert world.a_application not in mailbox_as(personas.viewer)
    assert attachment_status(personas.viewer, world.a_attachment) == 404


def test_the_operator_reads_every_organisations_mail(world):
    operator = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-operator-1")
    page = mailbox_as(operator)
    assert world.a_welcome in page and world.b_welcome in page and world.a_application in page
    assert attachment_status(operator, world.a_attachment) == 200


def test_a_welcome_link_from_another_organisations_mailbox_cannot_be_taken(personas, world):
    """The attack of the finding: B's viewer reads A's first-password link and sets it."""
    found = WELCOME_RE.findall(mailbox_as(world.b_viewer))
    assert world.a_welcome not in found


def test_captured_mail_records_its_organisation(personas, world):
    assert CapturedMail.objects.get(to="new-admin@city.example.jp").organisation == personas.org
    assert CapturedMail.objects.get(to="office@a.example.jp").organisation == personas.org
    assert CapturedMail.objects.get(to="new@other-town.example.jp").organisation == (
        personas.outsider_org
    )


def test_the_mailbox_is_offered_to_a_trial_organisation_and_to_readers_of_mail(personas):
    trial = organisation_create(name="練習市", slug="practice", is_trial=True)
    trial_member = staff_create(
        organisation=trial,
        username="practice-viewer",
        password=personas.password,
        display_name="練習 閲覧",
        email="viewer@practice.example.jp",
        roles=[Role.VIEWER],
    )
    for staff, offered in ((trial_member, True), (personas.viewer, False), (personas.admin, False)):
        client = Client()
        client.force_login(staff)
        assert ('href="/mailbox/"' in client.get("/").content.decode()) is offered, staff.username
    staff_invite(
        organisation=personas.org,
        actor=personas.admin,
        username="newcomer",
        display_name="新人",
        email="newcomer@city.example.jp",
        department=None,
        roles=[Role.SENDER],
    )
    client = Client()
    client.force_login(personas.admin)
    assert 'href="/mailbox/"' in client.get("/").content.decode()  # the newcomer's mail to read
