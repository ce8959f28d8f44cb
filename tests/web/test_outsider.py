"""Acceptance 4 of the core: staff of another organisation get 404 on every contract URL."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver

from keiyaku.contracts import services
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)


def contract_urls(contract) -> list[str]:
    """Every URL pattern that takes a contract id, filled in for this contract (generated)."""
    party = contract.parties.first()
    document = contract.documents.first()
    values = {
        "contract_id": str(contract.pk),
        "party_id": str(party.pk),
        "document_id": str(document.pk),
        "page": "1",
        "which": "original",
    }
    urls = []
    for pattern in get_resolver().url_patterns:
        for sub in getattr(pattern, "url_patterns", [pattern]):
            route = (
                str(pattern.pattern) + str(sub.pattern)
                if hasattr(pattern, "url_patterns")
                else str(sub.pattern)
            )
            if "<uuid:contract_id>" not in route:
                continue
            path = route
            for name, value in values.items():
                for converter in ("uuid", "int", "str"):
                    path = path.replace(f"<{converter}:{name}>", value)
            assert "<" not in path, route
            urls.append("/" + path)
    return urls


def test_outsider_gets_404_everywhere(personas):
    contract = draft_contract(
        personas.sender, externals=[External("株式会社A", "甲 太郎", "a@example.jp")]
    )
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link("a@example.jp"), "1234")
    contract.refresh_from_db()
    assert contract.status == "completed"

    urls = contract_urls(contract)
    assert len(urls) >= 10
    insider = Client()
    insider.force_login(personas.sender)
    assert insider.get(f"/contracts/{contract.pk}/").status_code == 200

    outsider = Client()
    outsider.force_login(personas.outsider)
    for url in urls:
        for method in (outsider.get, outsider.post):
            response = method(url)
            assert response.status_code in (404, 405), (url, response.status_code)
            assert contract.title not in response.content.decode()
    listing = outsider.get("/").content.decode()
    assert contract.title not in listing

    anonymous = Client()
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code in (302, 405) and "/login/" in response.get(
            "Location", "/login/"
        )
