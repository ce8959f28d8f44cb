"""「署名依頼を送信する」 asks once (issue 14): a summary first, no send without it, one send for a
double submit, and a draft changed after the confirmation is not sent."""

from __future__ import annotations

import html

from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.models import Box, Contract, ContractStatus
from keiyaku.notifications.models import OutboxMessage
from tests.flow import External, draft_contract
from tests.web.sending import SUMMARY_RE, confirm_page

TAKAHASHI = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "4321")
SATO = External("佐藤設備株式会社", "佐藤 花子", "sato@example.jp", "8765")


def _draft(personas) -> Contract:
    contract = draft_contract(personas.sender, externals=[TAKAHASHI, SATO], documents=2)
    document = contract.documents.order_by("position").first()
    first, second = contract.parties.order_by("position")
    for y in (100, 200):
        Box.objects.create(document=document, party=first, page=1, x=72, y=y, width=150, height=20)
    Box.objects.create(document=document, party=second, page=1, x=72, y=300, width=150, height=20)
    return contract


def _logged_in(personas) -> Client:
    client = Client()
    client.force_login(personas.sender)
    return client


def test_the_confirmation_lists_what_is_sent_and_a_send_needs_it_and_happens_once(personas):
    contract = _draft(personas)
    client = _logged_in(personas)
    detail = client.get(f"/contracts/{contract.pk}/").content.decode()
    assert f'action="/contracts/{contract.pk}/send/confirm/"' in detail
    assert f'action="/contracts/{contract.pk}/send/"' not in detail  # no send without asking

    response = confirm_page(client, contract, "2026-12-24")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "契約書1.pdf" in page and "契約書2.pdf" in page
    assert page.index("takahashi@example.jp") < page.index("sato@example.jp")
    rows = page.split('data-testid="confirm-party"')[1:]
    assert "髙橋 一郎" in rows[0] and "2 件" in rows[0]
    assert "佐藤 花子" in rows[1] and "1 件" in rows[1]
    assert "2026-12-24 23:59" in page
    assert "12,345,000 円" in page
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT  # showing it changes nothing
    assert not OutboxMessage.objects.exists()

    # A send without the confirmation is refused.
    response = client.post(f"/contracts/{contract.pk}/send/", {"deadline": ""}, follow=True)
    assert "送信内容を確認してから送信してください" in response.content.decode()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert not OutboxMessage.objects.exists()

    # Sent from the confirmation, twice (a double submit): one send, no error shown.
    form = {"summary": SUMMARY_RE.search(page).group(1), "deadline": "2026-12-24"}
    answers = [
        client.post(f"/contracts/{contract.pk}/send/", form, follow=True).content.decode()
        for _ in range(2)
    ]
    assert all("署名依頼を送信しました" in answer for answer in answers)
    refusals = ("この案件はすでに送信されています", "送信済みの案件は変更できません")
    assert not any(refusal in a for a in answers for refusal in refusals)
    assert Event.objects.filter(event="contract.send").count() == 1
    assert OutboxMessage.objects.filter(to="takahashi@example.jp").count() == 1


def test_a_draft_changed_after_the_confirmation_is_not_sent(personas):
    contract = _draft(personas)
    client = _logged_in(personas)
    page = html.unescape(confirm_page(client, contract).content.decode())
    form = {"summary": SUMMARY_RE.search(page).group(1), "deadline": ""}
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company="第三者株式会社",
        name="第三 者",
        email="third@example.jp",
        access_code="5555",
    )
    response = client.post(f"/contracts/{contract.pk}/send/", form, follow=True)
    assert "もう一度内容を確認してから送信してください" in response.content.decode()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert not OutboxMessage.objects.exists()


def test_a_confirmation_that_would_be_refused_says_why_on_the_contract_page(personas):
    contract = draft_contract(personas.sender)  # no party yet
    client = _logged_in(personas)
    response = confirm_page(client, contract)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "署名者を1名以上設定してください" in page
