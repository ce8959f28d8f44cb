"""Every URL of the project, walked as people who must not see or change a contract (R1, R29, R36).

The URL list is generated from the resolver, so a URL added later is walked too. Anonymous
visitors get the login page (or a public page that shows nothing of the organisation), staff of
another organisation and of another department get 404, a viewer reads but changes nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from keiyaku.accounts.models import Department, Organisation, Role, Staff
from keiyaku.accounts.services import staff_create
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.models import Contract, ContractShare, Document, Party
from keiyaku.contracts.services.sharing import contract_share_add
from keiyaku.notifications.models import CapturedAttachment
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)

PARAM_RE = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
# Pages anyone may open without logging in; they must still show nothing of an organisation.
PUBLIC_PREFIXES = (
    "/login/",
    "/password-reset/",
    "/welcome/",
    "/s/",
    "/d/",
    "/counterparty/",
    "/a/",
    "/verify/",
    "/trust/",
    "/help/",
    "/pki/",
    "/i18n/",
)
# Screens that change contracts or the organisation's set-up; a viewer's own account pages
# (password, two-factor) are not among them.
CHANGE_PREFIXES = ("/contracts/", "/admin-org/", "/addressbook/", "/signin/")
READ_EVENTS = {
    "contract.view",
    "party.preview",
    "document.download",
    "certificate.download",
    "audit.export",
    "addressbook.export",
    "contracts.export_csv",  # issue 15: a search result as CSV or a ZIP of its PDFs
    "contracts.export_zip",
}


def routes() -> Iterator[str]:
    """Every route of the project, as `path()` strings joined through the includes."""

    def walk(patterns, prefix: str) -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    # The API authenticates by token, not by the staff session: tests/api/test_api_outsider.py
    # walks every path of its OpenAPI document with another organisation's token.
    yield from (r for r in walk(get_resolver().url_patterns, "") if not r.startswith("api/v1/"))


FALLBACK = {"int": "987654", "uuid": str(uuid.uuid4()), "slug": "test-city", "path": "x"}


def fill(route: str, values: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name, converter = match["name"], match["converter"] or "str"
        return values.get(name) or FALLBACK.get(converter, "x")

    return "/" + PARAM_RE.sub(one, route)


def contract_urls(contract) -> list[str]:
    """Every URL pattern that takes a contract id, filled in for this contract (generated)."""
    values = _values(contract)
    return [fill(route, values) for route in routes() if "<uuid:contract_id>" in route]


def _values(contract: Contract, **extra: str) -> dict[str, str]:
    party = contract.parties.first()
    document = contract.documents.first()
    values = {
        "contract_id": str(contract.pk),
        "party_id": str(party.pk) if party else "",
        "document_id": str(document.pk) if document else "",
        "page": "1",
        "which": "original",
        "token": "no-such-token-" + "x" * 30,
    }
    values.update(extra)
    return values


def _address_book_entry(sender: Staff) -> dict[str, str]:
    """A company private to the sender's department, when the address book is installed."""
    try:
        from keiyaku.addressbook.services import company_create, contact_create
    except ImportError:  # pragma: no cover - the address book is a later issue
        return {}
    company = company_create(actor=sender, name="秘密商事", department=sender.department)
    contact = contact_create(
        company=company, actor=sender, name="秘密 担当", email="himitsu@secret.example.jp"
    )
    return {"company_id": str(company.pk), "contact_id": str(contact.pk)}


def all_urls(contract: Contract, personas, **extra: str) -> list[str]:
    values = _values(
        contract,
        staff_id=str(personas.sender.pk),
        department_id=str(personas.contracts_dept.pk),
        share_id=str(
            ContractShare.objects.filter(contract=contract).values_list("pk", flat=True).first()
            or ""
        ),
        attachment_id=str(CapturedAttachment.objects.values_list("pk", flat=True).first() or ""),
        **extra,
    )
    return [fill(route, values) for route in routes()]


def snapshot(*contracts: Contract) -> tuple:
    """What a change would move: the contracts and everything of the organisation's set-up."""
    rows = []
    for contract in contracts:
        contract.refresh_from_db()
        rows.append(
            (
                contract.status,
                contract.title,
                sorted(
                    Party.objects.filter(contract=contract).values_list("pk", "status", "position")
                ),
                sorted(Document.objects.filter(contract=contract).values_list("pk", flat=True)),
                sorted(
                    ContractShare.objects.filter(contract=contract).values_list("pk", flat=True)
                ),
            )
        )
    rows.append(sorted(Staff.objects.values_list("pk", "username", "is_active", "email")))
    rows.append(sorted(Department.objects.values_list("pk", "name", "parent_id")))
    rows.append(
        sorted(Organisation.objects.values_list("pk", "ip_allowlist", "include_subdepartments"))
    )
    return tuple(rows)


@pytest.fixture
def world(personas):
    """A completed contract and a draft, both of the sender's department (契約課)."""
    done = draft_contract(
        personas.sender,
        externals=[External("株式会社秘密建設", "甲 太郎", "a@example.jp")],
        title="秘密の道路補修工事 請負契約",
    )
    services.contract_send(contract=done, actor=personas.sender)
    agree(Client(), last_link("a@example.jp"), "1234")
    done.refresh_from_db()
    assert done.status == "completed"
    draft = draft_contract(
        personas.sender,
        externals=[External("株式会社下書き", "乙 次郎", "b@example.jp")],
        title="秘密の公園整備工事 下書き",
    )
    contract_share_add(contract=draft, actor=personas.sender, staff=personas.admin)
    extra = _address_book_entry(personas.sender)
    markers = [done.title, draft.title, done.certificate_id, "sender@city.example.jp", "秘密商事"]
    return done, draft, markers, extra


def assert_no_data(response, markers: list[str], url: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", "replace")
    leaked = [m for m in markers if m in text]
    assert not leaked, (url, response.status_code, leaked)


def request(client: Client, method: str, url: str, user: Staff | None):
    if user is not None:
        client.force_login(user)  # a URL such as /logout/ must not end the walk early
    return client.get(url) if method == "get" else client.post(url)


def test_outsider_gets_404_everywhere(personas, world):
    done, draft, markers, extra = world
    urls = contract_urls(done) + contract_urls(draft)
    assert len(urls) >= 20
    insider = Client()
    insider.force_login(personas.sender)
    assert insider.get(f"/contracts/{done.pk}/").status_code == 200

    outsider = Client()
    before = snapshot(done, draft)
    for contract in (done, draft):
        for url in all_urls(contract, personas, **extra):
            carries_ids = any(
                f"/{value}/" in url or f"/{value}." in url
                for value in (str(contract.pk), str(personas.sender.pk), extra.get("company_id"))
                if value
            )
            for method in ("get", "post"):
                response = request(outsider, method, url, personas.outsider)
                assert response.status_code < 500, (url, method, response.status_code)
                assert_no_data(response, markers, url)
                # Staff screens of these contracts (not /counterparty/contracts/…, whose ids
                # may equal these by chance: a counterparty's sign-in page answers there).
                if carries_ids and url.startswith("/contracts/"):
                    assert response.status_code in (404, 405), (url, method, response.status_code)
                if url.startswith("/mailbox/attachments/"):  # the contract's signed PDF
                    assert response.status_code == 404, (url, method, response.status_code)
    assert snapshot(done, draft) == before
    assert done.title not in request(outsider, "get", "/", personas.outsider).content.decode()


def test_anonymous_gets_the_login_page_or_a_public_page(personas, world):
    done, draft, markers, extra = world
    anonymous = Client()
    before = snapshot(done, draft)
    for url in all_urls(done, personas, **extra):
        for method in ("get", "post"):
            response = request(anonymous, method, url, None)
            assert response.status_code < 500, (url, method, response.status_code)
            assert_no_data(response, markers, url)
            if not url.startswith(PUBLIC_PREFIXES) and url != "/logout/" and method == "get":
                assert response.status_code in (302, 404, 405), (url, response.status_code)
                if response.status_code == 302:
                    assert response["Location"].startswith("/login/"), url
    assert snapshot(done, draft) == before


def test_staff_of_another_department_get_404_on_the_departments_contracts(personas, world):
    done, draft, markers, extra = world
    # 市長 (signer) and a sender of 土木課: neither signs these contracts nor shares in them.
    roads_sender = staff_create(
        organisation=personas.org,
        username="roads-sender",
        password=personas.password,
        display_name="土木 担当",
        email="doboku@city.example.jp",
        department=personas.other_dept,
        roles=[Role.SENDER],
    )
    before = snapshot(done, draft)
    for user in (personas.mayor, roads_sender):
        roads = Client()
        for contract in (done, draft):
            for url in all_urls(contract, personas, **extra):
                for method in ("get", "post"):
                    response = request(roads, method, url, user)
                    status = response.status_code
                    assert status < 500, (url, method, status)
                    assert_no_data(response, markers, url)
                    if f"/contracts/{contract.pk}/" in url:
                        if user == roads_sender:  # may change contracts, but not this one
                            assert status in (404, 405), (url, method, status)
                        # 404, or the 403 a non-sender gets for any id: no existence oracle.
                        assert status in (403, 404, 405), (url, method)
                        unknown = url.replace(str(contract.pk), str(uuid.uuid4()))
                        assert request(roads, method, unknown, user).status_code == status, (
                            url,
                            method,
                        )
                    if url.startswith("/admin-org/"):
                        assert status in (403, 404, 405), (url, method)
    assert snapshot(done, draft) == before


def test_a_viewer_reads_the_departments_contracts_but_changes_nothing(personas, world):
    done, draft, _markers, extra = world
    viewer = Client()
    viewer.force_login(personas.viewer)
    assert done.title in viewer.get("/").content.decode()
    assert viewer.get(f"/contracts/{done.pk}/").status_code == 200
    assert viewer.get(f"/contracts/{done.pk}/certificate.pdf").status_code == 200
    before = snapshot(done, draft)
    last_event = Event.objects.order_by("-id").values_list("id", flat=True).first()
    for contract in (done, draft):
        for url in all_urls(contract, personas, **extra):
            if url.startswith(PUBLIC_PREFIXES) or url == "/logout/":
                continue
            response = request(viewer, "post", url, personas.viewer)
            assert response.status_code < 500, (url, response.status_code)
            if url.startswith(CHANGE_PREFIXES):
                # Refused, or a page that ignores POST; never the redirect that follows a change.
                assert response.status_code in (200, 400, 403, 404, 405), (
                    url,
                    response.status_code,
                )
    assert snapshot(done, draft) == before
    # Every change writes an audit entry; the viewer's walk wrote reads only.
    written = set(Event.objects.filter(pk__gt=last_event).values_list("event", flat=True))
    assert written <= READ_EVENTS, written - READ_EVENTS


def test_only_senders_and_admins_change_contracts(personas, world):
    _done, draft, _markers, _extra = world
    for user, allowed in (
        (personas.viewer, False),
        (personas.sender, True),
        (personas.admin, True),
    ):
        client = Client()
        client.force_login(user)
        response = client.post(
            f"/contracts/{draft.pk}/shares/", {"department": personas.other_dept.pk}
        )
        assert (response.status_code == 302) is allowed, (user.username, response.status_code)
        ContractShare.objects.filter(department=personas.other_dept).delete()
    viewer = Client()
    viewer.force_login(personas.viewer)
    assert viewer.get("/contracts/new/").status_code == 403
    assert 'href="/contracts/new/"' not in viewer.get("/").content.decode()
