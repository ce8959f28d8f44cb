"""Acceptance 2 of the core: reject, forward, lockout, dead links, each with the right page and mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.contracts import services
from keiyaku.contracts.models import (
    Contract,
    ContractStatus,
    DocumentVersion,
    PartyStatus,
    VersionKind,
)
from tests.flow import External, agree, draft_contract, enter_code, last_link, mails_to

pytestmark = pytest.mark.django_db(transaction=True)

TAKAHASHI = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
SATO = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "1357")


def sent(personas, *externals: External, staff=()):
    contract = draft_contract(personas.sender, externals=externals, staff_signers=staff)
    services.contract_send(contract=contract, actor=personas.sender)
    return contract


def signed_versions(contract) -> int:
    return DocumentVersion.objects.filter(
        document__contract=contract, kind=VersionKind.SIGNED
    ).count()


def test_reject_stops_contract_and_tells_sender(personas):
    contract = sent(personas, TAKAHASHI, SATO)
    client = Client()
    link = last_link(TAKAHASHI.email)
    assert enter_code(client, link, TAKAHASHI.code).status_code == 302
    response = client.post(link + "reject/", {"reason": "金額に誤りがあります。"})
    assert response.status_code == 200
    assert "却下しました" in response.content.decode()

    contract.refresh_from_db()
    assert contract.status == ContractStatus.REJECTED
    assert contract.status_reason == "金額に誤りがあります。"
    notice = mails_to(personas.sender.email)[-1]
    assert "却下されました" in notice.subject and "金額に誤りがあります。" in notice.body
    assert mails_to(SATO.email) == []  # the next party is never asked
    page = client.get(link)
    assert page.status_code == 410 and "却下されました" in page.content.decode()
    # Nothing is signed after a rejection, even by a crafted request.
    assert client.post(link + "complete/", {}).status_code == 410
    assert signed_versions(contract) == 0


def test_reject_needs_a_reason(personas):
    sent(personas, TAKAHASHI)
    client = Client()
    link = last_link(TAKAHASHI.email)
    enter_code(client, link, TAKAHASHI.code)
    response = client.post(link + "reject/", {"reason": "  "})
    assert response.status_code == 200
    assert "却下の理由" in response.content.decode()


def test_forward_lets_another_person_sign_and_records_both(personas):
    contract = sent(personas, TAKAHASHI)
    client = Client()
    link = last_link(TAKAHASHI.email)
    enter_code(client, link, TAKAHASHI.code)
    response = client.post(
        link + "forward/",
        {"company": TAKAHASHI.company, "name": "髙橋 花子", "email": "hanako@example.jp"},
    )
    assert response.status_code == 200 and "転送しました" in response.content.decode()
    assert client.get(link).status_code == 410  # the old link is dead
    assert "転送されました" in mails_to(personas.sender.email)[-1].subject

    agree(Client(), last_link("hanako@example.jp"), TAKAHASHI.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    original, successor = contract.parties.order_by("id")
    assert original.status == PartyStatus.FORWARDED
    assert successor.status == PartyStatus.SIGNED and successor.forwarded_from == original


def test_five_wrong_codes_lock_the_link_and_the_sender_sees_it(personas):
    contract = sent(personas, TAKAHASHI)
    client = Client()
    link = last_link(TAKAHASHI.email)
    for attempt in range(4):
        response = enter_code(client, link, f"99{attempt}9")
        assert response.status_code == 400
        assert "アクセスコードが正しくありません" in response.content.decode()
    response = enter_code(client, link, "0000")
    assert response.status_code == 410 and "ロックされています" in response.content.decode()
    # Even the right code does not open a locked link.
    assert enter_code(client, link, TAKAHASHI.code).status_code == 410
    assert "ロックされました" in mails_to(personas.sender.email)[-1].subject
    staff = Client()
    staff.force_login(personas.sender)
    detail = staff.get(f"/contracts/{contract.pk}/").content.decode()
    assert "ロック中" in detail


def test_used_up_link_shows_done_page(personas):
    sent(personas, TAKAHASHI, SATO)
    client = Client()
    link = last_link(TAKAHASHI.email)
    agree(client, link, TAKAHASHI.code)
    page = client.get(link)
    assert page.status_code == 410 and "署名手続きは完了しています" in page.content.decode()
    assert client.post(link + "complete/", {}).status_code == 410


def test_expired_link(personas):
    """A signing link dies with its contract's deadline (issue 14), before the periodic job
    marks the contract expired, and its page says which deadline passed and whom to ask."""
    contract = sent(personas, TAKAHASHI)
    Contract.objects.filter(pk=contract.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    page = Client().get(last_link(TAKAHASHI.email))
    text = page.content.decode()
    assert page.status_code == 410 and "有効期限が切れています" in text
    assert "署名期限を過ぎたため" in text and "署名期限:" in text
    assert "お問い合わせ先" in text and "契約 花子" in text  # the sender, no block set


def test_link_of_finished_contract(personas):
    contract = sent(personas, TAKAHASHI)
    link = last_link(TAKAHASHI.email)
    agree(Client(), link, TAKAHASHI.code)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    page = Client().get(link)
    assert page.status_code == 410 and "締結済み" in page.content.decode()


def test_unknown_link_is_404(personas):
    assert Client().get("/s/" + "A" * 32 + "/").status_code == 404


def test_documents_need_the_code_first(personas):
    sent(personas, TAKAHASHI)
    link = last_link(TAKAHASHI.email)
    client = Client()
    response = client.get(link + "documents/")
    assert response.status_code == 302 and response["Location"] == link
    assert client.post(link + "complete/", {}).status_code == 302


def test_staff_signer_must_be_that_staff_member(personas):
    sent(personas, staff=[personas.mayor])
    link = last_link(personas.mayor.email)
    anonymous = Client().get(link)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    other = Client()
    other.force_login(personas.sender)
    assert other.get(link).status_code == 404
    assert other.post(link + "complete/", {}).status_code == 302
