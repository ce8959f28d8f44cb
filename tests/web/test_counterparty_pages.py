"""Issue 14, the counterparty's pages: the access-code page shows only the organisation and
that a code is needed (never the contract or its recipient), counts the tries left, asks a
phone for a numeric keypad for a code of digits; every page shows the deadline while signing
runs and whom to ask; the confirmation keeps the hashes behind 詳細."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.timefmt import deadline_text
from tests.flow import External, draft_contract, enter_code, last_link

pytestmark = pytest.mark.django_db(transaction=True)  # the signing e-mail goes out after commit

DIGITS = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
LETTERS = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "ab12cd")
CODE_INPUT = re.compile(r'<input[^>]*name="code"[^>]*>')


def test_the_code_page_reveals_nothing_before_the_code_and_counts_the_tries(personas):
    """The browser journey (tests/browser/test_counterparty_pages.py) covers the rest; here,
    what it does not: a code with letters gets the ordinary keyboard, the recipient's e-mail
    and management number stay hidden too, and the hashes appear only inside 詳細."""
    contract = draft_contract(personas.sender, externals=[DIGITS, LETTERS])
    services.party_set_parallel(
        party=contract.parties.get(email=LETTERS.email), actor=personas.sender, parallel=True
    )
    services.contract_send(contract=contract, actor=personas.sender)
    contract.refresh_from_db()
    assert contract.deadline is not None
    link = last_link(DIGITS.email)
    party = Client()
    page = html.unescape(party.get(link).content.decode())
    for secret in (contract.title, DIGITS.company, DIGITS.name, DIGITS.email, "R8-土木-0042"):
        assert secret not in page
    assert "テスト市" in page and "アクセスコードが必要です" in page
    assert deadline_text(contract.deadline) in page
    assert "契約 花子" in page  # no contact block set: the department's sender
    code_input = CODE_INPUT.search(page)
    assert code_input is not None and 'inputmode="numeric"' in code_input[0]
    other = CODE_INPUT.search(Client().get(last_link(LETTERS.email)).content.decode())
    assert other is not None and "numeric" not in other[0]

    wrong = html.unescape(enter_code(party, link, "0000").content.decode())
    assert "あと4回誤るとロックされます" in wrong and contract.title not in wrong
    assert "あと3回" in enter_code(party, link, "1111").content.decode()

    assert enter_code(party, link, DIGITS.code).status_code == 302
    confirm = party.post(link + "confirm/").content.decode()
    details = re.search(r'<details class="hashes".*?</details>', confirm, re.S)
    assert details is not None and "SHA-256" in details[0]
    assert "SHA-256" not in confirm.replace(details[0], "")
