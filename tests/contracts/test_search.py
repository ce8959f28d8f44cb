"""Contract search (R28, 電子帳簿保存法's search): a generated set with known answers.

Sixty contracts get seeded random titles, counterparties, 管理番号, amounts and dates (with
the range boundaries among them, and half-width/full-width variants of the same words). Every
condition alone and in combination is run through the list's own code path and compared with
a plain Python oracle over the same rows; a staff member who sees one department never gets
another's contract, whatever the conditions.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from dataclasses import dataclass, replace

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.contracts import search_index
from keiyaku.contracts.list_page import contract_list_page
from keiyaku.contracts.models import Contract, ContractStatus, Document
from keiyaku.contracts.search import BadSearch, SearchConditions
from keiyaku.contracts.search_index import (
    MAX_WORD_CHARS,
    WordTooLong,
    normalise,
    search_index_refresh,
)
from keiyaku.contracts.selectors import contracts_visible_to
from keiyaku.contracts.services import duplicate
from tests.contract_copies import copies
from tests.flow import External, draft_contract

pytestmark = pytest.mark.django_db

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")

TITLES = [
    "令和８年度 道路補修工事 請負契約",
    "令和8年度 市立小学校 清掃業務委託",
    "水道管更新工事（第２工区）",
    "ＩＴシステム保守契約",
    "ITシステム 賃貸借契約",
    "公園 樹木剪定業務",
    "道路照明 LED 更新",
]
COMPANIES = [
    "株式会社ｶﾀｶﾅ建設",
    "株式会社カタカナ建設",
    "佐藤工業株式会社",
    "山田商事",
    "ABC Co., Ltd.",
]
AMOUNTS = [None, 999_999, 1_000_000, 1_000_001, 3_000_000, 4_999_999, 5_000_000, 5_000_001]
DAYS = [None, dt.date(2026, 3, 31), dt.date(2026, 4, 1), dt.date(2026, 6, 15), dt.date(2026, 9, 30)]
SOURCE_TITLE = "令和8年度 道路補修工事 請負契約"
STATUSES = [ContractStatus.DRAFT, ContractStatus.IN_PROGRESS, ContractStatus.COMPLETED]


@dataclass(frozen=True)
class Row:
    pk: object
    title: str
    company: str
    number: str
    amount: int | None
    contract_date: dt.date | None
    period_end: dt.date | None
    signed: dt.date | None
    status: str
    department_id: int
    filename: str
    text: str


def _has(text: str, word: str) -> bool:
    """The oracle's 部分一致: NFKC, case folded, spaces and punctuation ignored."""

    def plain(value: str) -> str:
        folded = unicodedata.normalize("NFKC", value).casefold()
        return "".join(c for c in folded if c.isalnum())

    return plain(word) in plain(text)


def _oracle(rows: list[Row], c: SearchConditions) -> set:
    def ok(r: Row) -> bool:
        everything = [r.title, r.company, r.number, r.filename, r.text, A.company, A.name]
        checks = [
            all(any(_has(t, w) for t in everything) for w in c.words.split()),
            all(_has(r.title, w) for w in c.title.split()),
            all(_has(r.filename, w) for w in c.filename.split()),
            all(
                any(_has(t, w) for t in (r.company, A.company, A.name))
                for w in c.counterparty.split()
            ),
            all(_has(r.number, w) for w in c.number.split()),
            c.department_id is None or r.department_id == c.department_id,
            not c.statuses or r.status in c.statuses,
            c.amount_min is None or (r.amount is not None and r.amount >= c.amount_min),
            c.amount_max is None or (r.amount is not None and r.amount <= c.amount_max),
        ]
        for value, low, high in (
            (r.contract_date, c.contract_date_from, c.contract_date_to),
            (r.period_end, c.period_end_from, c.period_end_to),
            (r.signed, c.signed_from, c.signed_to),
        ):
            checks.append(low is None or (value is not None and value >= low))
            checks.append(high is None or (value is not None and value <= high))
        return all(checks)

    return {r.pk for r in rows if ok(r)}


@pytest.fixture
def generated(personas) -> list[Row]:
    source = draft_contract(personas.sender, externals=[A], title=SOURCE_TITLE)
    made = [source, *copies(source, 59)]
    chance = random.Random(20261201)  # noqa: S311 - a reproducible test set, not a secret
    rows = []
    for n, contract in enumerate(made):
        signed = chance.choice(DAYS)
        status = ContractStatus.COMPLETED if signed else chance.choice(STATUSES[:2])
        # 23:59 JST on the signing day: the end of a day still belongs to it.
        completed_at = (
            timezone.make_aware(dt.datetime.combine(signed, dt.time(23, 59))) if signed else None
        )
        fields = {
            "title": chance.choice(TITLES),
            "counterparty_company": chance.choice(COMPANIES),
            "management_number": chance.choice(["R8-土木-{:04d}", "Ｒ８－土木－{:04d}"]).format(n),
            "amount": chance.choice(AMOUNTS),
            "contract_date": chance.choice(DAYS),
            "period_end": chance.choice(DAYS),
            "completed_at": completed_at,
            "status": status,
            "department_id": chance.choice([personas.contracts_dept.pk, personas.other_dept.pk]),
        }
        Contract.objects.filter(pk=contract.pk).update(**fields)
        search_index_refresh(contract.pk)
        rows.append(
            Row(
                pk=contract.pk,
                title=fields["title"],
                company=fields["counterparty_company"],
                number=fields["management_number"],
                amount=fields["amount"],
                contract_date=fields["contract_date"],
                period_end=fields["period_end"],
                signed=signed,
                status=status,
                department_id=fields["department_id"],
                filename="契約書1.pdf" if contract.pk == source.pk else "",
                # The source's document, as draft_contract wrote it (copies have no document).
                text=f"{SOURCE_TITLE} 第1号" if contract.pk == source.pk else "",
            )
        )
    return rows


def _found(staff, conditions: SearchConditions) -> set:
    return {row.contract.pk for row in contract_list_page(staff, size=500, search=conditions).rows}


CONDITIONS = [
    SearchConditions(),
    SearchConditions(words="道路"),
    SearchConditions(words="道"),  # one character
    SearchConditions(words="８年度"),  # full-width digit finds half-width too
    SearchConditions(words="ｉｔシステム"),
    SearchConditions(words="カタカナ"),  # half-width katakana in the data
    SearchConditions(words="ｶﾀｶﾅ建設"),
    SearchConditions(words="道路 工事"),  # both words
    SearchConditions(words="工事　契約"),  # a full-width space separates too
    SearchConditions(words="髙橋"),  # the party's company, not the counterparty field
    SearchConditions(words="路補"),  # inside a word
    SearchConditions(words="存在しない語"),
    SearchConditions(title="清掃"),
    SearchConditions(title="髙橋"),  # a party, not a title: nothing
    SearchConditions(counterparty="佐藤"),
    SearchConditions(counterparty="一郎"),
    SearchConditions(number="r8土木0012"),
    SearchConditions(number="Ｒ８－土木－００１２"),
    SearchConditions(number="-00"),
    SearchConditions(filename="契約書"),
    SearchConditions(amount_min=1_000_000),
    SearchConditions(amount_max=5_000_000),
    SearchConditions(amount_min=1_000_000, amount_max=5_000_000),
    SearchConditions(amount_min=1_000_001, amount_max=4_999_999),
    SearchConditions(amount_min=5_000_000, amount_max=5_000_000),
    SearchConditions(contract_date_from=dt.date(2026, 4, 1)),
    SearchConditions(contract_date_to=dt.date(2026, 3, 31)),
    SearchConditions(contract_date_from=dt.date(2026, 4, 1), contract_date_to=dt.date(2026, 6, 15)),
    SearchConditions(period_end_from=dt.date(2026, 6, 15), period_end_to=dt.date(2026, 6, 15)),
    SearchConditions(signed_from=dt.date(2026, 4, 1), signed_to=dt.date(2026, 6, 15)),
    SearchConditions(signed_to=dt.date(2026, 3, 31)),
    SearchConditions(statuses=(ContractStatus.DRAFT, ContractStatus.COMPLETED)),
    SearchConditions(
        words="道路",
        amount_min=1_000_000,
        amount_max=5_000_000,
        contract_date_from=dt.date(2026, 4, 1),
        contract_date_to=dt.date(2026, 9, 30),
    ),
    SearchConditions(
        counterparty="建設", amount_max=3_000_000, statuses=(ContractStatus.COMPLETED,)
    ),
    SearchConditions(title="工事", number="土木", signed_from=dt.date(2026, 1, 1)),
]


def test_every_condition_alone_and_combined_finds_what_the_oracle_finds(personas, generated):
    assert len(generated) == 60
    for conditions in CONDITIONS:
        assert _found(personas.admin, conditions) == _oracle(generated, conditions), conditions
    # The set is not trivial: all but six (no condition, two words every row has, two that
    # nothing has, and a number fragment every row has) find some contracts and leave others.
    sizes = [len(_oracle(generated, c)) for c in CONDITIONS]
    assert sum(1 for s in sizes if 0 < s < 60) >= len(CONDITIONS) - 6, str(sizes)


def test_by_department_and_never_beyond_what_one_sees(personas, generated):
    by_department = SearchConditions(department_id=personas.other_dept.pk)
    assert _found(personas.admin, by_department) == _oracle(generated, by_department)
    visible = set(contracts_visible_to(personas.viewer).values_list("pk", flat=True))
    assert visible and visible != {r.pk for r in generated}
    for conditions in [*CONDITIONS, by_department]:
        found = _found(personas.viewer, conditions)
        assert found == _oracle(generated, conditions) & visible, conditions
    # Another organisation's staff finds nothing of this one, whatever it asks.
    assert _found(personas.outsider, SearchConditions(words="道路")) == set()


def _assert_pages_both_ways(reader, search, sort, everything: list, *, size: int) -> None:
    """Pages of ``size`` forward through the cursors give ``everything`` in order, and the
    same pages read back from the last one."""
    from keiyaku.contracts.list_page import Cursor

    pages, after = [], None
    while True:
        page = contract_list_page(reader, size=size, after=after, search=search, sort=sort)
        pages.append([row.contract.pk for row in page.rows])
        if page.after is None:
            break
        after = Cursor.parse(page.after.token, sort)
    assert [pk for rows in pages for pk in rows] == everything
    back, before = [pages[-1]], page.before
    while before is not None:
        page = contract_list_page(reader, size=size, before=before, search=search, sort=sort)
        back.insert(0, [row.contract.pk for row in page.rows])
        before = page.before
    assert back == pages


# How contract_list_page reads a search (list_page._search_rows, SearchConditions.plan): each
# word collected through the index or tested contract by contract, and the list's order walked
# or the matches sorted; forced here whatever the counts in this small set.
READ_SHAPES = {
    "walk, words row by row": (-1, False),
    "walk, words collected": (10**9, False),
    "matches sorted, words collected": (10**9, True),
    "matches sorted, words row by row": (-1, True),
}


@pytest.mark.parametrize("shape", READ_SHAPES)
def test_every_way_of_reading_a_search_finds_the_same(personas, generated, monkeypatch, shape):
    """The list reads a search by walking its order or by sorting the matches read through the
    conditions' indexes (`list_page._search_rows`, for the speed of bench/search.py), with the
    words tested contract by contract or collected: each way finds what the oracle finds, no
    more than the reader may see, and pages forward and back through the same rows in the same
    order."""
    from keiyaku.contracts import search
    from keiyaku.contracts.list_page import DEFAULT_SORT, SORTS

    word_rows, collect = READ_SHAPES[shape]
    monkeypatch.setattr(
        search_index, "COLLECT_ROWS", dict.fromkeys(("sqlite", "postgresql"), word_rows)
    )
    planned = search.SearchConditions.plan
    monkeypatch.setattr(
        search.SearchConditions,
        "plan",
        lambda self, organisation_id: replace(planned(self, organisation_id), collect=collect),
    )
    visible = set(contracts_visible_to(personas.viewer).values_list("pk", flat=True))
    for conditions in CONDITIONS:
        assert _found(personas.admin, conditions) == _oracle(generated, conditions), conditions
        found = _found(personas.viewer, conditions)
        assert found == _oracle(generated, conditions) & visible, conditions
    # Pages of three, forward then back, in two orders, for the admin and the viewer.
    search = SearchConditions(words="工事")
    for reader, sort in ((personas.admin, DEFAULT_SORT), (personas.viewer, SORTS["amount"])):
        everything = [
            row.contract.pk
            for row in contract_list_page(reader, size=500, search=search, sort=sort).rows
        ]
        assert set(everything) == _oracle(generated, search) & (
            visible if reader == personas.viewer else {r.pk for r in generated}
        )
        _assert_pages_both_ways(reader, search, sort, everything, size=3)
    # A document's own text, and a one-character word (a token starting with it).
    contract = draft_contract(
        personas.sender, externals=[A], title="別件", heading="排水ポンプ場 維持管理業務"
    )
    assert _found(personas.admin, SearchConditions(words="排水ﾎﾟﾝﾌﾟ")) == {contract.pk}
    assert _found(personas.admin, SearchConditions(title="ポンプ")) == set()
    one = SearchConditions(words="道")  # not in the new contract
    assert _found(personas.admin, one) == _oracle(generated, one)


def _index_rows_holding(word: str, fields) -> int:
    """Index rows the engine's own index finds for ``word`` within ``fields`` (by their marks
    alone: no SQL filter on the field column)."""
    from django.db import connection

    query = search_index._query(search_index.normalise(word), fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM contracts_searchtext WHERE grams::tsvector @@ %s::tsquery",
                [query],
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM contracts_searchtext_fts "
                "WHERE contracts_searchtext_fts MATCH %s",
                [query],
            )
        return int(cursor.fetchone()[0])


def test_the_index_finds_a_word_within_a_field_by_the_fields_mark(personas, generated):
    """Each index row ends with its field's mark (search_index.field_mark), so a word asked
    for within some fields is found there by the index itself: 「建設」 is in company names,
    never in a title; a one-character word's prefix query never matches a mark."""
    from keiyaku.contracts.models import SearchText
    from keiyaku.contracts.search_index import SearchField

    title, counterparty = (SearchField.TITLE,), (SearchField.COUNTERPARTY,)
    companies = SearchText.objects.filter(field=SearchField.COUNTERPARTY, grams__contains="建設")
    assert _index_rows_holding("建設", counterparty) == companies.count() > 0
    assert _index_rows_holding("建設", title) == 0
    assert _index_rows_holding("建設", None) == companies.count()
    assert _index_rows_holding("道路", title) > 0 == _index_rows_holding("道路", counterparty)
    everything = SearchText.objects.count()
    assert _index_rows_holding("t", None) < everything  # not every row's 「#title」…
    assert _index_rows_holding("#", None) == 0  # a mark is never a word's token


def test_the_migration_marks_rows_indexed_before_marks(personas, generated):
    """Contracts migration 0023 gives rows indexed without marks their field's mark (and
    leaves marked rows alone); searches within a field find them again."""
    import importlib

    from django.db import connection

    from keiyaku.contracts.models import SearchText

    migration = importlib.import_module("keiyaku.contracts.migrations.0023_search_field_marks")

    class Editor:  # what the migration's functions use of a schema editor
        def __init__(self) -> None:
            self.connection = connection

        def execute(self, sql: str) -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql)

    marked = dict(SearchText.objects.values_list("pk", "grams"))
    migration._unmark(None, Editor())
    assert not SearchText.objects.filter(grams__contains="#").exists()
    assert _index_rows_holding("建設", (search_index.SearchField.COUNTERPARTY,)) == 0
    migration._mark(None, Editor())
    migration._mark(None, Editor())  # twice: marked rows are left alone
    assert dict(SearchText.objects.values_list("pk", "grams")) == marked
    by_title = SearchConditions(title="道路")
    assert _found(personas.admin, by_title) == _oracle(generated, by_title)


def test_a_word_only_in_a_documents_text_is_found(personas):
    """The text is extracted at ingest (in its budgeted child) and indexed with the document;
    a duplicate's documents carry it too."""
    contract = draft_contract(
        personas.sender, externals=[A], title="別件", heading="排水ポンプ場 維持管理業務"
    )
    assert _found(personas.admin, SearchConditions(words="排水ﾎﾟﾝﾌﾟ")) == {contract.pk}
    # A later metadata edit re-indexes the metadata and keeps the documents' text.
    party = contract.parties.first()
    party.name = "髙橋 二郎"
    party.save()
    assert _found(personas.admin, SearchConditions(words="ポンプ場")) == {contract.pk}
    assert _found(personas.admin, SearchConditions(title="ポンプ")) == set()
    copy = duplicate.contract_duplicate(contract=contract, actor=personas.sender)
    assert _found(personas.admin, SearchConditions(words="維持管理")) == {contract.pk, copy.pk}


def test_the_index_follows_edits_through_the_models(personas, generated):
    contract = Contract.objects.get(pk=generated[0].pk)
    document = Document.objects.filter(contract=contract).first()
    document.filename = "見積書_最終版.pdf"
    document.save()
    assert _found(personas.admin, SearchConditions(filename="最終版")) == {contract.pk}
    party = contract.parties.first()
    party.company = "新社名工務店"
    party.save()
    assert _found(personas.admin, SearchConditions(counterparty="新社名")) == {contract.pk}


def test_words_normalise_and_refuse_what_cannot_be_searched():
    assert normalise("Ｎｏ．１２３ ｶﾞｲﾄﾞ") == "no123ガイド"
    with pytest.raises(WordTooLong):
        _ = SearchConditions(words="あ" * (MAX_WORD_CHARS + 1)).condition()
    with pytest.raises(BadSearch):
        SearchConditions(amount_min=2, amount_max=1)
    with pytest.raises(BadSearch):
        replace(SearchConditions(), signed_from=dt.date(2026, 2, 1), signed_to=dt.date(2026, 1, 1))


def test_the_list_page_searches_and_keeps_the_conditions_in_its_page_links(
    personas, generated, settings
):
    settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE = 3
    client = Client()
    client.force_login(personas.admin)
    page = client.get("/", {"q": "道路", "amount_min": "１，０００，０００円"}).content.decode()
    wanted = _oracle(generated, SearchConditions(words="道路", amount_min=1_000_000))
    assert len(wanted) > 3
    assert "q=%E9%81%93%E8%B7%AF" in page and "after=" in page  # 次へ keeps the search
    # Wrong input is said on the form, in Japanese, never a 500.
    bad = client.get("/", {"amount_min": "百万", "contract_date_from": "2026-13-01"})
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "金額は数字で入力してください" in text and "日付" in text
    inverted = client.get("/", {"amount_min": "5", "amount_max": "1"}).content.decode()
    assert "始まりを終わり以前にしてください" in inverted
    huge = client.get("/", {"amount_min": "9" * 21})  # past any database integer: no 500
    assert huge.status_code == 200 and "円以下で入力してください" in huge.content.decode()
    long = client.get("/", {"q": "あ" * 70}).content.decode()
    assert "検索語が長すぎます" in long


def _expected_order(rows: list[Row], sort) -> list:
    """The oracle's order: the column (empty values last either way), then the id."""
    column = {
        "amount": "amount",
        "contract_date": "contract_date",
        "period_end": "period_end",
        "completed_at": "signed",
        "title": "title",
        "management_number": "number",
        "counterparty_company": "company",
        "status": "status",
    }[sort.column]
    present = [r for r in rows if getattr(r, column) is not None]
    empty = [r for r in rows if getattr(r, column) is None]
    present.sort(key=lambda r: (getattr(r, column), r.pk), reverse=sort.descending)
    empty.sort(key=lambda r: r.pk, reverse=sort.descending)
    return [r.pk for r in present + empty]


@pytest.mark.parametrize(
    "name",
    ["amount", "-amount", "contract_date", "-period_end", "-completed_at", "title", "-status"],
)
def test_every_order_pages_forward_and_back_with_empty_values_last(personas, generated, name):
    from keiyaku.contracts.list_page import SORTS, Cursor

    sort = SORTS[name]
    if sort.column == "completed_at":  # the oracle knows the day; the list orders by the time
        assert all(r.signed is None or r.status == ContractStatus.COMPLETED for r in generated)
    wanted = _expected_order(generated, sort)
    pages, after = [], None
    while True:
        page = contract_list_page(personas.admin, size=7, after=after, sort=sort)
        pages.append([row.contract.pk for row in page.rows])
        if page.after is None:
            break
        after = Cursor.parse(page.after.token, sort)  # through the link's text
    assert [pk for rows in pages for pk in rows] == wanted
    # Back from the last page to the first: the same pages.
    back, before = [pages[-1]], page.before
    while before is not None:
        page = contract_list_page(
            personas.admin, size=7, before=Cursor.parse(before.token, sort), sort=sort
        )
        back.insert(0, [row.contract.pk for row in page.rows])
        before = page.before
    assert back == pages


def test_a_cursor_of_another_order_is_refused(personas, generated):
    from keiyaku.contracts.list_page import SORTS, BadCursor, Cursor

    by_time = contract_list_page(personas.admin, size=5).after.token
    with pytest.raises(BadCursor):
        Cursor.parse(by_time, SORTS["amount"])
    client = Client()
    client.force_login(personas.admin)
    bad = client.get("/", {"sort": "amount", "after": by_time})
    assert bad.status_code == 400 and "ページの指定が正しくありません" in bad.content.decode()
    edited = client.get("/", {"sort": "amount", "after": "i" + "9" * 19 + "-" + "0" * 32})
    assert edited.status_code == 400  # past any database integer: a refusal, not a 500
    unknown = client.get("/", {"sort": "password"})
    assert unknown.status_code == 200 and "並び順" in unknown.content.decode()
    page = client.get("/", {"sort": "-title", "q": "工事"}).content.decode()
    assert 'aria-sort="descending"' in page and "sort=title" in page  # the heading turns it


def test_saved_searches_are_personal_and_run_again(personas, generated):
    from keiyaku.audit.models import Event
    from keiyaku.contracts.models import SavedSearch

    mine, theirs = Client(), Client()
    mine.force_login(personas.admin)
    theirs.force_login(personas.sender)
    query = "q=%E9%81%93%E8%B7%AF&amount_min=1000000&after=123-" + "0" * 32
    answer = mine.post("/searches/", {"name": "道路 100万以上", "query": query})
    assert answer.status_code == 302
    saved = SavedSearch.objects.get(staff=personas.admin)
    assert "after" not in saved.query  # never a page position
    assert Event.objects.filter(event="search.save", subject=f"saved_search:{saved.pk}").exists()
    page = mine.get("/").content.decode()
    assert "道路 100万以上" in page and f'href="?{saved.query.replace("&", "&amp;")}"' in page
    rerun = mine.get(f"/?{saved.query}").content.decode()
    wanted = _oracle(generated, SearchConditions(words="道路", amount_min=1_000_000))
    assert {str(pk) for pk in wanted} <= set(re.findall(r"/contracts/([0-9a-f-]{36})/", rerun))
    # Someone else neither sees nor deletes it.
    assert "道路 100万以上" not in theirs.get("/").content.decode()
    assert theirs.post(f"/searches/{saved.pk}/delete/").status_code == 404
    # The same name again replaces it; an empty search is refused in Japanese.
    mine.post("/searches/", {"name": "道路 100万以上", "query": "title=%E5%B7%A5%E4%BA%8B"})
    assert SavedSearch.objects.get(staff=personas.admin).query == "title=%E5%B7%A5%E4%BA%8B"
    refused = mine.post("/searches/", {"name": "空", "query": "after=1"}, follow=True)
    assert "保存する検索条件がありません" in refused.content.decode()
    assert mine.post(f"/searches/{saved.pk}/delete/").status_code == 302
    assert not SavedSearch.objects.exists()


def test_the_plan_collects_what_is_small_and_walks_what_is_common(personas, generated, monkeypatch):
    """SearchConditions.plan: a word in few index rows, a short range of an indexed date or a
    保証契約番号 makes the list collect the matches; common words and wide ranges walk it. The
    thresholds are set for this set of sixty contracts."""
    from django.db import connection

    from keiyaku.contracts import search

    if connection.vendor == "postgresql":  # the plan reads the planner's statistics
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE contracts_searchtext")
            cursor.execute("ANALYZE contracts_contract")
    monkeypatch.setattr(search_index, "COLLECT_ROWS", {"sqlite": 20, "postgresql": 20})
    monkeypatch.setattr(search, "RANGE_COLLECT_ROWS", {"sqlite": 20, "postgresql": 20})
    from keiyaku.contracts.models import SearchText

    organisation = personas.admin.organisation_id
    assert SearchText.objects.filter(grams__contains="道路").count() > 20  # common in this set
    assert not SearchConditions(words="道路").plan(organisation).collect
    assert SearchConditions(words="宇宙").plan(organisation).collect
    assert SearchConditions(words="道路 宇宙").plan(organisation).collect  # one small word
    assert SearchConditions(surety_number="AB-1").plan(organisation).collect
    wide = SearchConditions(contract_date_from=dt.date(2000, 1, 1))
    assert not wide.plan(organisation).collect
    if connection.vendor == "sqlite":  # counted: exact on any set
        day = SearchConditions(
            contract_date_from=dt.date(2026, 4, 1), contract_date_to=dt.date(2026, 4, 1)
        )
        assert day.plan(organisation).collect


MIXED = [
    SearchConditions(title="清掃", words="令和"),
    SearchConditions(words="樹木 契約"),
    SearchConditions(counterparty="佐藤", words="工事", amount_min=1_000_000),
    SearchConditions(words="路補 道路", statuses=(ContractStatus.DRAFT, ContractStatus.COMPLETED)),
    SearchConditions(words="存在しない語 契約"),
]


def test_a_rare_word_and_a_common_one_are_read_sorted_then_tested_in_order(
    personas, generated, monkeypatch
):
    """A rare word (collected through the index) with a common one (tested contract by
    contract): the list sorts the rare word's contracts, then tests the common word on them in
    that order until the page is full (`list_page._collected_then_tested`). It finds what the
    oracle finds, no more than the reader may see, and pages both ways, two rows a page,
    through the same rows in the same order, in two orders."""
    from keiyaku.contracts import list_page
    from keiyaku.contracts.list_page import DEFAULT_SORT, SORTS

    rare = {normalise(word) for word in ("清掃", "樹木", "佐藤", "路補", "存在しない語")}
    monkeypatch.setattr(
        search_index.WordFilter, "collectable", property(lambda self: self.normalised in rare)
    )
    tested = []
    original = list_page._collected_then_tested
    monkeypatch.setattr(
        list_page,
        "_collected_then_tested",
        lambda *args, **kwargs: tested.append(1) or original(*args, **kwargs),
    )
    visible = set(contracts_visible_to(personas.viewer).values_list("pk", flat=True))
    for conditions in MIXED:
        expected = _oracle(generated, conditions)
        assert _found(personas.admin, conditions) == expected, conditions
        assert _found(personas.viewer, conditions) == expected & visible, conditions
        assert len(tested) == 2, conditions  # read this way, for both readers
        tested.clear()
    # The one the viewer finds most of, paged two by two.
    search = max(MIXED, key=lambda c: len(_oracle(generated, c) & visible))
    for reader, sort in ((personas.admin, DEFAULT_SORT), (personas.viewer, SORTS["-amount"])):
        everything = [
            row.contract.pk
            for row in contract_list_page(reader, size=500, search=search, sort=sort).rows
        ]
        assert len(everything) >= 3
        _assert_pages_both_ways(reader, search, sort, everything, size=2)


def test_the_first_and_last_days_a_date_holds_are_searched_not_a_500(
    personas, generated, monkeypatch
):
    """締結日 from 0001-01-01 or up to 9999-12-31 (what a date field accepts): the JST day's
    start before year 1 in UTC, or the day after the last, is no time a database holds, so that
    end restricts nothing; read both ways (a rare word with a common one, and collected), on
    the page, its CSV and the API. A 500 before."""
    rare = {normalise("清掃")}
    monkeypatch.setattr(
        search_index.WordFilter, "collectable", property(lambda self: self.normalised in rare)
    )
    first, last = dt.date(1, 1, 1), dt.date(9999, 12, 31)
    for search in (
        SearchConditions(title="清掃", words="令和", signed_from=first),
        SearchConditions(title="清掃", words="令和", signed_to=last),
        SearchConditions(signed_from=first, signed_to=last),
        SearchConditions(signed_from=last),
        SearchConditions(signed_to=first),
    ):
        assert _found(personas.admin, search) == _oracle(generated, search), search
    client = Client(raise_request_exception=False)
    client.force_login(personas.admin)
    for path in ("/", "/contracts/export.csv"):
        for ends in ({"signed_from": "0001-01-01"}, {"signed_to": "9999-12-31"}):
            answer = client.get(path, {"title": "清掃", "q": "令和", **ends})
            assert answer.status_code == 200, (path, ends)
