"""Issue 3: cancel (R10), reminders and deadlines (R11), unlock (R18), forwarding flag (R17)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import ContractStatus, DocumentVersion, PartyStatus, VersionKind
from keiyaku.notifications.models import CapturedMail
from tests.flow import (
    External,
    agree,
    approver,
    draft_contract,
    enter_code,
    last_link,
    mail_links,
    mails_to,
)

pytestmark = pytest.mark.django_db(transaction=True)

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")


def sent(personas, *externals, **kwargs):
    contract = draft_contract(personas.sender, externals=externals)
    services.contract_send(contract=contract, actor=personas.sender, **kwargs)
    return contract


def signed_versions(contract) -> int:
    return DocumentVersion.objects.filter(
        document__contract=contract, kind=VersionKind.SIGNED
    ).count()


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_a_draft(personas):
    contract = draft_contract(personas.sender, externals=[A])
    services.contract_cancel(contract=contract, actor=personas.sender, reason="入札のやり直し")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.CANCELLED
    assert mails_to(A.email) == []  # never asked, so not told


def test_cancel_while_first_party_reads(personas):
    contract = sent(personas, A, B)
    link = last_link(A.email)
    client = Client()
    enter_code(client, link, A.code)
    before = CapturedMail.objects.count()
    services.contract_cancel(contract=contract, actor=personas.sender, reason="金額の誤り")
    notices = list(CapturedMail.objects.order_by("id"))[before:]
    assert [m.to for m in notices] == [A.email]  # only the cancellation notice, only to A
    assert "取り消されました" in notices[0].subject and "金額の誤り" in notices[0].body
    page = client.get(link)
    assert page.status_code == 410 and "取り消されました" in page.content.decode()
    assert client.post(link + "complete/", {}).status_code == 410  # a late agreement
    assert signed_versions(contract) == 0
    staff = Client()
    staff.force_login(personas.sender)
    assert "取消" in staff.get("/").content.decode()  # stays in the list as cancelled


def test_cancel_after_first_signature_stops_everything(personas):
    contract = sent(personas, A, B)
    agree(Client(), last_link(A.email), A.code)
    assert signed_versions(contract) == 1
    services.contract_cancel(contract=contract, actor=personas.sender, reason="契約辞退")
    assert "取り消されました" in mails_to(A.email)[-1].subject
    assert "取り消されました" in mails_to(B.email)[-1].subject
    assert Client().get(last_link(B.email)).status_code == 410
    with pytest.raises(ContractError):
        services.contract_cancel(contract=contract, actor=personas.sender, reason="again")
    assert signed_versions(contract) == 1


def test_completed_contract_cannot_be_cancelled(personas):
    contract = sent(personas, A)
    agree(Client(), last_link(A.email), A.code)
    with pytest.raises(ContractError, match="取り消せません"):
        services.contract_cancel(contract=contract, actor=personas.sender, reason="x")


# --- reminders and deadlines ---------------------------------------------------------------


def test_manual_reminder_issues_a_fresh_link_and_kills_the_old(personas):
    contract = sent(personas, A)
    old = last_link(A.email)
    services.contract_remind(contract=contract, actor=personas.sender)
    reminder = mails_to(A.email)[-1]
    assert reminder.subject.startswith("【リマインド】")
    assert A.code not in reminder.body
    new = last_link(A.email)
    assert new != old
    assert Client().get(old).status_code == 410
    agree(Client(), new, A.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED


def test_a_reminder_to_an_approver_asks_for_approval_not_a_signature(personas):
    contract = draft_contract(personas.sender)
    chief = approver(personas, "chief", "課長 一")
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver"
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=A.company,
        name=A.name,
        email=A.email,
        access_code=A.code,
    )
    services.contract_send(contract=contract, actor=personas.sender)
    old = last_link(chief.email)
    services.contract_remind(contract=contract, actor=personas.sender)
    reminder = mails_to(chief.email)[-1]
    assert (
        reminder.subject == "【リマインド】【keiyaku】「令和8年度 道路補修工事 請負契約」の承認依頼"
    )
    assert "事前承認がまだ完了していません" in reminder.body
    assert "署名" not in reminder.body.replace("署名期限", "")
    assert last_link(chief.email) != old
    assert mails_to(A.email) == []  # not their turn yet
    client = Client()
    client.force_login(chief)
    agree(client, last_link(chief.email))
    assert mails_to(A.email)[-1].subject.endswith("への署名依頼が届いています")


def test_automatic_reminder_once_then_expiry_with_a_fake_clock(personas, settings):
    settings.KEIYAKU_REMIND_DAYS_BEFORE = 1
    now = timezone.now()
    contract = sent(personas, A, deadline=now + timedelta(days=5))
    assert len(mails_to(A.email)) == 1

    assert services.deadlines_check(now=now + timedelta(days=2)) == (0, 0)  # too early
    assert len(mails_to(A.email)) == 1
    assert services.deadlines_check(now=now + timedelta(days=4, hours=1)) == (1, 0)
    assert mails_to(A.email)[-1].subject.startswith("【リマインド】")
    assert services.deadlines_check(now=now + timedelta(days=4, hours=2)) == (0, 0)  # once
    assert len(mails_to(A.email)) == 2

    link = last_link(A.email)
    assert services.deadlines_check(now=now + timedelta(days=5, seconds=1)) == (0, 1)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.EXPIRED
    assert "署名期限が過ぎました" in mails_to(personas.sender.email)[-1].subject
    assert Client().get(link).status_code == 410
    assert signed_versions(contract) == 0


def test_default_deadline_is_a_setting(personas, settings):
    settings.KEIYAKU_DEADLINE_DAYS = 5
    contract = sent(personas, A)
    contract.refresh_from_db()
    assert timedelta(days=4) < contract.deadline - timezone.now() < timedelta(days=6)


def test_deadline_in_the_past_is_refused(personas):
    contract = draft_contract(personas.sender, externals=[A])
    with pytest.raises(ContractError, match="署名期限"):
        services.contract_send(
            contract=contract, actor=personas.sender, deadline=timezone.now() - timedelta(hours=1)
        )


# --- access codes and forwarding ----------------------------------------------------------


def test_sender_unlocks_a_locked_link_with_a_new_code(personas):
    contract = sent(personas, A)
    link = last_link(A.email)
    for _ in range(5):
        enter_code(Client(), link, "0000")
    party = contract.parties.get()
    party.refresh_from_db()
    assert party.is_locked
    services.party_unlock(party=party, actor=personas.sender, access_code="7777")
    assert not any("7777" in m.body for m in mails_to(A.email))  # the code is never e-mailed
    assert enter_code(Client(), link, A.code).status_code == 400  # the old code no longer works
    agree(Client(), link, "7777")
    party.refresh_from_db()
    assert party.status == PartyStatus.SIGNED


def test_the_sender_may_correct_or_unlock_a_party_not_asked_yet(personas):
    contract = sent(personas, A, B)
    first, waiting = contract.parties.order_by("position")
    assert waiting.status == PartyStatus.WAITING
    staff = Client()
    staff.force_login(personas.sender)
    detail = f"/contracts/{contract.pk}/"

    page = staff.get(detail).content.decode()
    for party in (first, waiting):
        assert f'action="{detail}parties/{party.pk}/email/"' in page
        assert f'action="{detail}parties/{party.pk}/unlock/"' in page

    response = staff.post(f"{detail}parties/{waiting.pk}/email/", {"email": "sato2@example.jp"})
    assert response.status_code == 302
    assert mails_to("sato2@example.jp") == []  # not its turn yet
    agree(Client(), last_link(A.email), A.code)
    assert len(mail_links("sato2@example.jp")) == 1
    assert mails_to(B.email) == []

    page = staff.get(detail).content.decode()  # the first has signed: nothing to correct
    assert f'action="{detail}parties/{first.pk}/email/"' not in page
    assert f'action="{detail}parties/{first.pk}/unlock/"' not in page
    assert f'action="{detail}parties/{waiting.pk}/email/"' in page


def test_forwarding_can_be_forbidden(personas):
    contract = draft_contract(personas.sender, externals=[A])
    contract.allow_forwarding = False
    contract.save(update_fields=["allow_forwarding"])
    services.contract_send(contract=contract, actor=personas.sender)
    client = Client()
    link = last_link(A.email)
    enter_code(client, link, A.code)
    assert "この書類を転送する" not in client.get(link + "documents/").content.decode()
    response = client.post(link + "forward/", {"name": "代理 人", "email": "other@example.jp"})
    assert "転送が許可されていません" in response.content.decode()
    assert mails_to("other@example.jp") == []
    assert len(mail_links(A.email)) == 1
