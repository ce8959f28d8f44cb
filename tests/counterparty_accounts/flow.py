"""Contracts a counterparty signed with two organisations, and its account's one-time links."""

from __future__ import annotations

import re

from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import Contract
from tests.flow import External, agree, draft_contract, last_link, mails_to

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
OTHER_FIRM = External("株式会社佐藤工務店", "佐藤 花子", "sato@example.jp", "1357")
ACCOUNT_LINK_RE = re.compile(r"https?://[^\s/]+(/counterparty/link/[A-Za-z0-9_-]+/)")


def signed(sender, signer: External, *, title: str) -> Contract:
    """A contract of ``sender``'s organisation that ``signer`` alone signs, completed."""
    contract = draft_contract(sender, externals=[signer], title=title)
    services.contract_send(contract=contract, actor=sender)
    agree(Client(), last_link(signer.email), signer.code)
    contract.refresh_from_db()
    assert contract.status == "completed"
    return contract


def account_links(address: str) -> list[str]:
    """Every one-time account link mailed to ``address`` (paths), oldest first."""
    return [path for mail in mails_to(address) for path in ACCOUNT_LINK_RE.findall(mail.body)]


def sign_in(client: Client, address: str) -> None:
    """Ask for a link, use it: the account of ``address`` is signed in (registered first)."""
    response = client.post("/counterparty/", {"email": address})
    assert response.status_code == 200, response.content.decode()[:2000]
    link = account_links(address)[-1]
    assert client.get(link).status_code == 200
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == "/counterparty/contracts/"
