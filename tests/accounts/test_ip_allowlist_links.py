"""The IP allow-list (R38) on e-mailed links: a staff party's link obeys it, a counterparty's not.

A staff party (the mayor) is staff: reading, downloading and signing from outside the list is
refused on every route of the link, logged in or not. A counterparty signs from anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from keiyaku.accounts.services import organisation_update_settings
from keiyaku.contracts import services
from keiyaku.contracts.links import link_issue
from keiyaku.contracts.models import Party, PartyStatus
from keiyaku.contracts.selectors import sign_link_state
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)  # links are e-mailed after commit

INSIDE, OUTSIDE = "192.0.2.7", "203.0.113.5"
ACME = External("株式会社アクメ", "山田 太郎", "yamada@acme.example.jp", "8080")
REFUSED = "この接続元（203.0.113.5）からは"


@pytest.fixture
def listed(personas):
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist="192.0.2.0/24",
        current_ip=INSIDE,
    )
    return personas


@pytest.fixture
def mayor_link(listed) -> str:
    contract = draft_contract(listed.sender, staff_signers=[listed.mayor])
    services.contract_send(contract=contract, actor=listed.sender)
    return last_link(listed.mayor.email)


def mayor_at(personas, address: str) -> Client:
    client = Client(REMOTE_ADDR=address)
    client.force_login(personas.mayor)
    return client


def document_id(link: str) -> int:
    token = link.rstrip("/").rsplit("/", 1)[1]
    return sign_link_state(token).party.contract.documents.get().pk


def link_routes(link: str, doc: int) -> list[tuple[str, str, str]]:
    """(URL name, method, URL) for every route of a signing link."""
    return [
        ("sign-entry", "get", link),
        ("sign-documents", "get", f"{link}documents/"),
        ("sign-page", "get", f"{link}documents/{doc}/pages/1.jpg"),
        ("sign-download", "get", f"{link}documents/{doc}/download/"),
        ("sign-confirm", "post", f"{link}confirm/"),
        ("sign-complete", "post", f"{link}complete/"),
        ("sign-reject", "get", f"{link}reject/"),
        ("sign-reject", "post", f"{link}reject/"),
        ("sign-forward", "get", f"{link}forward/"),
        ("sign-forward", "post", f"{link}forward/"),
    ]


def test_every_link_route_is_checked_here():
    """A new route under /s/ or /d/ must be added to the walk below."""

    def walk(patterns, prefix: str) -> Iterator[tuple[str, str | None]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.name

    names = {
        name for route, name in walk(get_resolver().url_patterns, "") if route[:2] in ("s/", "d/")
    }
    assert names == {
        *(name for name, _method, _url in link_routes("/s/x/", 1)),
        "download-entry",
        "download-document",
        "download-certificate",
    }


@pytest.mark.parametrize("logged_in", [True, False])
def test_a_staff_partys_link_is_refused_outside_the_list(listed, mayor_link, logged_in):
    client = mayor_at(listed, OUTSIDE) if logged_in else Client(REMOTE_ADDR=OUTSIDE)
    for name, method, url in link_routes(mayor_link, document_id(mayor_link)):
        data = {"reason": "x", "name": "x", "email": "x@example.jp", "company": "x"}
        response = getattr(client, method)(url, data if method == "post" else None)
        assert response.status_code == 403, (name, method, response.status_code)
        assert REFUSED in response.content.decode(), name
    assert Party.objects.get(staff=listed.mayor).status == PartyStatus.NOTIFIED


def test_a_staff_partys_link_works_inside_the_list(listed, mayor_link):
    client = mayor_at(listed, INSIDE)
    assert client.get(mayor_link)["Location"].endswith("/documents/")
    for name, method, url in link_routes(mayor_link, document_id(mayor_link)):
        if name in ("sign-documents", "sign-page", "sign-download"):
            assert getattr(client, method)(url).status_code == 200, name
    agree(client, mayor_link)
    assert Party.objects.get(staff=listed.mayor).status in (
        PartyStatus.AGREED,
        PartyStatus.SIGNED,
    )


def test_a_counterpartys_link_works_from_anywhere(listed):
    contract = draft_contract(listed.sender, externals=[ACME])
    services.contract_send(contract=contract, actor=listed.sender)
    link = last_link(ACME.email)
    counterparty = Client(REMOTE_ADDR=OUTSIDE)
    assert counterparty.get(link).status_code == 200
    doc = document_id(link)
    agree(counterparty, link, ACME.code)
    # Signed: the documents stay readable through the completion download link.
    party = contract.parties.get()
    token = link_issue(party=party, purpose="download", days=14)
    assert counterparty.get(f"/d/{token}/").status_code == 200
    assert counterparty.get(f"/d/{token}/documents/{doc}.pdf").status_code == 200
    assert counterparty.get(f"/d/{token}/certificate.pdf").status_code == 200


def test_a_staff_partys_download_link_obeys_the_list(listed, mayor_link):
    party = Party.objects.get(staff=listed.mayor)
    token = link_issue(party=party, purpose="download", days=14)
    doc = document_id(mayor_link)
    routes = (f"/d/{token}/", f"/d/{token}/documents/{doc}.pdf", f"/d/{token}/certificate.pdf")
    for url in routes:
        refused = Client(REMOTE_ADDR=OUTSIDE).get(url)
        assert refused.status_code == 403 and REFUSED in refused.content.decode()
        # Inside the list the link is let through, to nothing yet: the contract is still
        # being signed (a download link is issued at completion).
        assert Client(REMOTE_ADDR=INSIDE).get(url).status_code == 404


def test_a_dead_staff_link_says_nothing_outside_the_list(listed, mayor_link):
    """Even a used or cancelled link's page (which names the contract) is refused."""
    contract = Party.objects.get(staff=listed.mayor).contract
    services.contract_cancel(contract=contract, actor=listed.sender, reason="取り下げ")
    response = Client(REMOTE_ADDR=OUTSIDE).get(mayor_link)
    assert response.status_code == 403
    assert Client(REMOTE_ADDR=INSIDE).get(mayor_link).status_code == 410


def test_through_the_trusted_proxy_the_forwarded_address_counts(listed, mayor_link, settings):
    settings.KEIYAKU_TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxied = Client(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=OUTSIDE)
    proxied.force_login(listed.mayor)
    assert proxied.get(mayor_link).status_code == 403
    inside = Client(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=INSIDE)
    inside.force_login(listed.mayor)
    assert inside.get(mayor_link).status_code == 302
