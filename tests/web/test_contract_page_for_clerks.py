"""The contract page as a clerk reads it (issue 14): amounts grouped, no empty period, parties a
finished contract never asked, placement edits grouped in the history, and the preview of what a
party will see."""

from __future__ import annotations

import html
import re

from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts import services
from keiyaku.contracts.models import Contract, Link, Party
from keiyaku.contracts.services.boxes import box_create, box_update
from tests.flow import External, draft_contract

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")
BOX = {"page": 1, "width": 150, "height": 20, "kind": "text"}


def _page(client: Client, contract: Contract) -> str:
    response = client.get(f"/contracts/{contract.pk}/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_draft_page_has_no_empty_card(personas):
    for user in (personas.sender, personas.viewer):
        contract = draft_contract(personas.sender)  # no party, no template
        page = _page(_client(user), contract)
        cards = re.findall(r'<(div|form)[^>]*class="card[^"]*"[^>]*>(.*?)</\1>', page, re.S)
        for _tag, inner in cards:
            assert re.sub(r"<[^>]+>|\s", "", inner), inner


def test_amounts_are_grouped_no_empty_period_and_parties_never_asked_say_so(personas):
    contract = draft_contract(personas.sender, externals=[A, B])
    services.contract_send(contract=contract, actor=personas.sender)
    first = contract.parties.get(email=A.email)
    services.party_reject(party=first, reason="金額違い", meta=RequestMeta(ip="203.0.113.5"))
    from keiyaku.web.templatetags.amounts import yen

    Contract.objects.filter(pk=contract.pk).update(amount=12_100_000)
    page = _page(_client(personas.sender), contract)
    assert "12,100,000 円" in page
    # No 「契約期間: 〜」 without dates (the term form below may still name the period).
    assert "契約期間:" not in page and 'data-testid="period"' not in page and "〜" not in page
    assert yen(0) == "0 円" and yen(None) == "—" and yen(10**15 - 1) == "999,999,999,999,999 円"
    statuses = re.findall(r'data-testid="party-status">(.*?)</span>', page)
    assert statuses == ["却下", "依頼されていません"]
    assert "順番待ち" not in page


def test_placement_edits_between_two_events_are_one_history_line(personas):
    contract = draft_contract(personas.sender, externals=[A])
    party = contract.parties.get()
    document = contract.documents.get()
    boxes = [
        box_create(
            document=document,
            actor=personas.sender,
            data=BOX | {"x": 60, "y": 100 + 40 * n, "party": party.pk},
        )
        for n in range(5)
    ]
    for box in boxes:  # three drags each
        for step in range(3):
            box_update(box=box, actor=personas.sender, data={"x": 70 + step})
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=B.company,
        name=B.name,
        email=B.email,
        access_code=B.code,
    )

    page = _page(_client(personas.sender), contract)
    lines = re.findall(r'<tr data-testid="history-line">(.*?)</tr>', page, re.S)
    labels = [
        re.sub(r"<[^>]+>", "", re.findall(r"<td>(.*?)</td>", line, re.S)[1]) for line in lines
    ]
    assert labels == ["案件作成", "署名者の追加", "入力欄を配置・変更（20件）", "署名者の追加"]
    # The audit log itself keeps every entry.
    placement = Event.objects.filter(
        subject=contract.audit_subject, event__in=["box.add", "box.update"]
    )
    assert placement.count() == 20


def test_the_preview_shows_what_a_party_will_see_without_acting_or_revealing_its_link(personas):
    contract = draft_contract(personas.sender, externals=[A, B])
    first, second = contract.parties.order_by("position")
    document = contract.documents.get()
    own = box_create(
        document=document, actor=personas.sender, data=BOX | {"x": 60, "y": 100, "party": second.pk}
    )
    other = box_create(
        document=document, actor=personas.sender, data=BOX | {"x": 60, "y": 200, "party": first.pk}
    )
    services.contract_send(contract=contract, actor=personas.sender)
    before = list(Party.objects.filter(pk=second.pk).values())
    links = list(Link.objects.values_list("pk", "revoked_at"))

    client = _client(personas.sender)
    response = client.get(f"/contracts/{contract.pk}/parties/{second.pk}/preview/")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert f"{B.company} {B.name} 様" in page
    assert re.search(rf'<input type="text" name="box_{own.pk}" disabled', page)
    assert f"box_{other.pk}" not in page and page.count('class="kbox-other"') == 1
    assert "/s/" not in page and B.code not in page  # no link, no access code
    assert 'id="agree-form"' not in page
    for image in re.findall(r'<img src="([^"]+)"', page):
        assert client.get(image).status_code == 200

    # Nothing of the party's changed; the staff member's look is theirs, not in the history.
    assert list(Party.objects.filter(pk=second.pk).values()) == before
    assert list(Link.objects.values_list("pk", "revoked_at")) == links
    (look,) = Event.objects.filter(event="party.preview")
    assert look.actor == personas.sender
    assert "プレビュー" not in _page(client, contract).split("履歴")[-1]
    # The contract page offers the preview for each party.
    assert _page(client, contract).count('data-testid="party-preview"') == 2


def test_a_preview_is_not_shown_to_staff_who_cannot_see_the_contract(personas):
    contract = draft_contract(personas.sender, externals=[A])
    party = contract.parties.get()
    response = _client(personas.outsider).get(
        f"/contracts/{contract.pk}/parties/{party.pk}/preview/"
    )
    assert response.status_code == 404
