"""The staff contract list (「案件一覧」, issue 12): keyset pages of one annotated query.

Progress, current holders and undelivered requests are checked against
`contract_progress`, the row-by-row computation the detail page still uses; paging forward
and back visits every contract once, ties included; the query count does not grow with the
page size; nobody ever gets a contract they may not see (R29); a cursor that cannot be read
is a Japanese 400 page.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.accounts.models import Role
from keiyaku.accounts.services import staff_create
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.list_page import Cursor, contract_list_page
from keiyaku.contracts.models import Contract, ContractStatus, Party, PartyStatus
from keiyaku.contracts.selectors import (
    contract_progress,
    contracts_visible_to,
    contracts_visible_to_parts,
)
from keiyaku.contracts.services import sharing
from tests.contract_copies import copies
from tests.flow import External, agree, draft_contract, last_link

pytestmark = pytest.mark.django_db(transaction=True)

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")
C = External("山田商事株式会社", "山田 三郎", "yamada@example.jp", "3333")

ROW_RE = re.compile(r'<td><a href="/contracts/([0-9a-f-]{36})/">')
NEXT_RE = re.compile(r'<a class="btn" rel="next" href="([^"]+)">')
PREV_RE = re.compile(r'<a class="btn" rel="prev" href="([^"]+)">')


def _client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def sent(personas, *externals, deadline=None, staff=()):
    contract = draft_contract(personas.sender, externals=externals, staff_signers=staff)
    services.contract_send(contract=contract, actor=personas.sender, deadline=deadline)
    return contract


def party_of(contract, external: External) -> Party:
    return contract.parties.get(email=external.email, status=PartyStatus.NOTIFIED)


# --- what each row shows -----------------------------------------------------------------------


def test_every_state_shows_what_the_row_by_row_computation_shows(personas):
    now = timezone.now()
    made = {"draft": draft_contract(personas.sender, externals=[A], staff_signers=[personas.mayor])}
    made["sending"] = sent(personas, A, B, staff=[personas.mayor])
    made["partly signed"] = sent(personas, A, B)
    agree(Client(), last_link(A.email), A.code)  # A of "sending" and this one got a link
    made["parallel"] = draft_contract(personas.sender, externals=[B, C])
    services.party_set_parallel(
        party=made["parallel"].parties.get(email=C.email), actor=personas.sender, parallel=True
    )
    services.contract_send(contract=made["parallel"], actor=personas.sender)
    made["completed"] = sent(personas, C, staff=[personas.mayor])
    agree(Client(), last_link(C.email), C.code)
    agree(_client(personas.mayor), last_link(personas.mayor.email))
    made["rejected"] = sent(personas, A, B)
    services.party_reject(party=party_of(made["rejected"], A), reason="金額相違", meta=SYSTEM)
    made["cancelled"] = sent(personas, A)
    services.contract_cancel(contract=made["cancelled"], actor=personas.sender, reason="再入札")
    made["forwarded"] = sent(personas, A, B)
    services.party_forward(
        party=party_of(made["forwarded"], A), name="代理 人", email="dairi@example.jp", meta=SYSTEM
    )
    made["expired"] = sent(personas, B, deadline=now + timedelta(days=1))
    services.deadlines_check(now=now + timedelta(days=1, seconds=1))

    for contract in made.values():
        contract.refresh_from_db()
    statuses = {name: c.status for name, c in made.items()}
    assert statuses == {
        "draft": ContractStatus.DRAFT,
        "sending": ContractStatus.IN_PROGRESS,
        "partly signed": ContractStatus.IN_PROGRESS,
        "parallel": ContractStatus.IN_PROGRESS,
        "completed": ContractStatus.COMPLETED,
        "rejected": ContractStatus.REJECTED,
        "cancelled": ContractStatus.CANCELLED,
        "forwarded": ContractStatus.IN_PROGRESS,
        "expired": ContractStatus.EXPIRED,
    }
    rows = {row.contract.pk: row for row in contract_list_page(personas.sender, size=50).rows}
    assert set(rows) == {c.pk for c in made.values()}
    for name, contract in made.items():
        expected = contract_progress(contract)
        row = rows[contract.pk]
        shown = (row.signed, row.total, [(h.company, h.name) for h in row.holders])
        wanted = (expected.signed, expected.total, [(p.company, p.name) for p in expected.holders])
        assert shown == wanted, name
        assert row.undelivered == bool(expected.undelivered), name
    # The cases the oracle must agree on are really there.
    assert rows[made["partly signed"].pk].label == "1/2"
    assert [h.name for h in rows[made["parallel"].pk].holders] == [B.name, C.name]
    assert [h.name for h in rows[made["forwarded"].pk].holders] == ["代理 人"]
    assert rows[made["completed"].pk].holders == []

    page = _client(personas.sender).get("/").content.decode()
    assert f"{B.company} {B.name}、{C.company} {C.name}" in page
    assert "署名中 1/2" in page


# --- paging ------------------------------------------------------------------------------------


def _href(found: re.Match[str] | None) -> str | None:
    return found.group(1).replace("&amp;", "&") if found else None


def _walk(client: Client) -> tuple[list[list[str]], str | None]:
    """Follow 「次へ」 from the first page to the last: each page's contract ids, and the last
    page's 「前へ」 link."""
    pages: list[list[str]] = []
    url: str | None = "/"
    prev = None
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        pages.append(ROW_RE.findall(page))
        url, prev = _href(NEXT_RE.search(page)), _href(PREV_RE.search(page))
    return pages, prev


def _walk_back(client: Client, url: str | None) -> list[list[str]]:
    """Follow 「前へ」 from `url` to the first page: each page's ids, first page first."""
    pages = []
    while url:
        page = client.get(url).content.decode()
        pages.append(ROW_RE.findall(page))
        url = _href(PREV_RE.search(page))
    return pages[::-1]


def test_paging_forward_and_back_visits_every_contract_once_with_ties(personas, settings):
    settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE = 4
    source = sent(personas, A)
    contracts = [source, *copies(source, 16)]
    # Ties in the sort column across page boundaries: runs of 5 contracts with one time.
    base = timezone.now().replace(microsecond=0)
    for n, contract in enumerate(contracts):
        Contract.objects.filter(pk=contract.pk).update(
            last_activity_at=base - timedelta(seconds=n // 5)
        )
    expected = [
        str(c.pk)
        for c in sorted(
            Contract.objects.all(), key=lambda c: (c.last_activity_at, c.pk), reverse=True
        )
    ]
    client = _client(personas.sender)

    pages, last_prev = _walk(client)
    assert [len(rows) for rows in pages] == [4, 4, 4, 4, 1]
    assert [contract_id for rows in pages for contract_id in rows] == expected

    # Back from the last page to the first: the same pages, each contract once.
    assert _walk_back(client, last_prev) + pages[-1:] == pages


def test_the_first_page_has_no_previous_link_and_the_last_no_next(personas, settings):
    settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE = 2
    source = sent(personas, A)
    copies(source, 2)
    client = _client(personas.sender)
    first = client.get("/").content.decode()
    assert "前へ" not in first and "次へ" in first
    second = client.get(NEXT_RE.search(first).group(1)).content.decode()
    assert "前へ" in second and "次へ" not in second
    assert len(ROW_RE.findall(second)) == 1


# --- a constant number of queries ----------------------------------------------------------------

# The session; the staff member with organisation and sign-in policy; the page; the mailbox link
# (this organisation has captured mail: whether any, then whether any this sender may read); the
# search form's department choices and custom fields; the reader's saved searches.
QUERIES_PER_PAGE = 8


@pytest.mark.parametrize("contracts", [10, 500])
def test_the_list_runs_the_same_queries_for_10_and_500_contracts(
    personas, settings, django_assert_max_num_queries, contracts
):
    settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE = 500
    source = sent(personas, A, B, staff=[personas.mayor])
    copies(source, contracts - 1)
    client = _client(personas.sender)
    client.get("/")  # the session's first use
    with django_assert_max_num_queries(QUERIES_PER_PAGE):
        response = client.get("/")
    assert len(ROW_RE.findall(response.content.decode())) == contracts
    assert response.content.decode().count(f"{A.company} {A.name}") == contracts


# --- visibility (R29) --------------------------------------------------------------------------


def test_nobody_pages_onto_a_contract_they_may_not_see(personas, settings):
    settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE = 2
    ours = sent(personas, A)
    ours_all = [ours, *copies(ours, 4)]
    theirs = draft_contract(personas.admin, externals=[B])  # 総務課: not the sender's department
    theirs_all = [theirs, *copies(theirs, 4)]
    roads = staff_create(
        organisation=personas.org,
        username="roads",
        password=personas.password,
        display_name="土木 三郎",
        email="roads@city.example.jp",
        department=personas.other_dept,
        roles=[Role.SENDER, Role.SIGNER],
    )
    # Every other reason to see a contract, for the roads department's sender: a contract
    # shared with them, one shared with their department, one they sign.
    shared = draft_contract(personas.admin, externals=[B])
    sharing.contract_share_add(contract=shared, actor=personas.admin, staff=roads)
    shared_dept = draft_contract(personas.admin, externals=[B])
    sharing.contract_share_add(
        contract=shared_dept, actor=personas.admin, department=personas.other_dept
    )
    signs = draft_contract(personas.admin, externals=[B], staff_signers=[roads])
    roads_ids = {str(shared.pk), str(shared_dept.pk), str(signs.pk)}
    ours_ids = {str(c.pk) for c in ours_all}
    theirs_ids = {str(c.pk) for c in theirs_all} | roads_ids
    # A cursor at an invisible contract's position shows only what its holder may see.
    inside = Cursor.of(theirs_all[2]).token

    seen = {}
    for who in (personas.sender, personas.viewer, roads, personas.admin, personas.outsider):
        client = _client(who)
        pages, _prev = _walk(client)
        forward = [contract_id for rows in pages for contract_id in rows]
        assert len(forward) == len(set(forward))
        visible = {str(pk) for pk in contracts_visible_to(who).values_list("pk", flat=True)}
        assert set(forward) == visible
        parts = contracts_visible_to_parts(who)
        assert {str(pk) for part in parts for pk in part.values_list("pk", flat=True)} == visible
        for cursor in (f"/?after={inside}", f"/?before={inside}"):
            shown = set(ROW_RE.findall(client.get(cursor).content.decode()))
            assert shown <= visible
        seen[who.username] = set(forward)
    assert seen["sender"] == seen["city-viewer"] == ours_ids
    assert seen["roads"] == roads_ids
    assert seen["outsider"] == set()
    assert seen["city-admin"] == ours_ids | theirs_ids
    assert _client(roads).get(f"/contracts/{ours.pk}/").status_code == 404
    assert _client(personas.outsider).get(f"/contracts/{theirs.pk}/").status_code == 404


# --- a cursor that cannot be read ----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "after=",
        "after=abc",
        "before=12345",
        "after=1764516392123456-XYZ",
        "after=1764516392123456-0123456789ABCDEF0123456789ABCDEF",
        "after=9999999999999999999-0123456789abcdef0123456789abcdef",
        "before=-9999999999999999999-0123456789abcdef0123456789abcdef",
        "after=1764516392123456-0123456789abcdef0123456789abcdef%00",
    ],
)
def test_a_cursor_that_cannot_be_read_is_a_japanese_400(personas, query):
    response = _client(personas.sender).get(f"/?{query}")
    assert response.status_code == 400
    page = response.content.decode()
    assert "ページの指定が正しくありません。一覧の最初から開き直してください。" in page
    assert 'href="/"' in page
