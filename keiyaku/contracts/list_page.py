"""One page of the staff contract list (「案件一覧」), read in one SQL query (issue 12).

The list is ordered by last activity, newest first, with the contract id as the tie-breaker,
and paged by keyset: a page ends at a `Cursor` (the last row's last activity and id) and the
next page starts strictly after it, so a deep page costs what the first one does and a
contract changed while someone pages is neither shown twice nor skipped on the pages ahead.
The index ``contract_list_order`` (organisation, last_activity_at, id) serves that order under
the visibility filter's leading column; see docs/architecture.md (Staff contract list).

Each row's progress (parties done / parties counted), current holders (the parties whose turn
it is, in routing order) and whether a holder's request could not be delivered come from one
correlated subquery of the same query (the counted parties as a JSON array), evaluated only
for the rows of the page: the number of queries does not grow with the page size. `keiyaku.contracts.selectors.contract_progress`
computes the same for one contract (the detail page) and is the list's test oracle.

Which contracts appear is `contracts_visible_to` (R1, R29), read through its parts
(`contracts_visible_to_parts`, whose union it is), never widened here.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _

from keiyaku.accounts.models import Staff
from keiyaku.contracts.models import Contract, Party
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.selectors import contracts_visible_to, contracts_visible_to_parts
from keiyaku.contracts.states import PARTY_COUNTED, PARTY_DONE, PARTY_HOLDING
from keiyaku.refusals import Refusal

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# "<the sort column's value, encoded>-<contract id, 32 hex digits>"; the value is microseconds
# since 1970 UTC for a time, "d20260401" for a date, "i123" for a number, "s<base64url>" for
# text and "n" for none (Sort.encode).
_CURSOR_RE = re.compile(
    r"(-?[0-9]{1,19}|d[0-9]{8}|i[0-9]{1,19}|s[A-Za-z0-9_-]{0,2000}|n)-([0-9a-f]{32})"
)


class BadCursor(Refusal):
    """A page link whose position cannot be read (edited or cut short): a 400, never a 500."""

    default_code = "bad_cursor"


def _bad_cursor() -> BadCursor:
    return BadCursor(_("ページの指定が正しくありません。一覧の最初から開き直してください。"))


@dataclass(frozen=True)
class Sort:
    """An order of the list: one column, its direction, the contract id breaking ties.

    A column that may be empty (amount, dates) puts its empty rows last in either direction.
    """

    name: str
    """As it travels in a link (``?sort=``): the column, ``-`` first for descending."""
    label: Any
    kind: str
    """What the column holds: "time", "date", "int" or "text" (how a cursor encodes it)."""
    nullable: bool = False

    @property
    def column(self) -> str:
        return self.name.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.name.startswith("-")

    def encode(self, value: Any) -> str:
        if value is None:
            return "n"
        if self.kind == "time":
            return str((value - _EPOCH) // _MICROSECOND)
        if self.kind == "date":
            return "d" + value.strftime("%Y%m%d")
        if self.kind == "int":
            return f"i{value}"
        return "s" + base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")

    def decode(self, text: str) -> Any:
        """The value ``encode`` wrote; raises BadCursor for another kind or a bad value."""
        try:
            if text == "n" and self.nullable:
                return None
            if self.kind == "time" and text[:1] not in ("d", "i", "s", "n"):
                return _EPOCH + int(text) * _MICROSECOND
            if self.kind == "date" and text.startswith("d"):
                return date(int(text[1:5]), int(text[5:7]), int(text[7:9]))
            if self.kind == "int" and text.startswith("i") and int(text[1:]) < 2**63:
                return int(text[1:])  # a database integer: larger ones were never written
            if self.kind == "text" and text.startswith("s"):
                raw = text[1:] + "=" * (-len(text[1:]) % 4)
                return base64.urlsafe_b64decode(raw.encode()).decode()
        except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error):
            raise _bad_cursor() from None
        raise _bad_cursor()


def _sorts() -> dict[str, Sort]:
    columns = (
        ("last_activity_at", _("最終更新"), "time", False),
        ("title", _("案件名"), "text", False),
        ("management_number", _("管理番号"), "text", False),
        ("counterparty_company", _("相手方"), "text", False),
        ("status", _("状況"), "text", False),
        ("amount", _("金額"), "int", True),
        ("contract_date", _("契約日"), "date", True),
        ("completed_at", _("締結日"), "time", True),
        ("period_end", _("契約期間（終了）"), "date", True),
    )
    found = {}
    for column, label, kind, nullable in columns:
        for name in (f"-{column}", column):
            found[name] = Sort(name, label, kind, nullable)
    return found


SORTS: dict[str, Sort] = _sorts()
"""Every order the list offers (R28: sort on every column), by its link name."""
DEFAULT_SORT = SORTS["-last_activity_at"]


def sort_named(name: str | None) -> Sort:
    """The order ``?sort=`` names; the default (newest activity first) for none. Raises
    BadCursor-like refusal `BadSort` for a name the list does not offer."""
    if not name:
        return DEFAULT_SORT
    found = SORTS.get(name)
    if found is None:
        raise BadSort(_("並び順の指定が正しくありません。"), field="sort")
    return found


class BadSort(Refusal):
    """A ``?sort=`` the list does not offer (an edited link): said on the page."""

    default_code = "bad_sort"


@dataclass(frozen=True)
class Cursor:
    """A position in the list: a row's value in the sort column and its id."""

    value: Any
    id: uuid.UUID
    sort: Sort = DEFAULT_SORT

    @property
    def last_activity_at(self) -> datetime:
        """The value under the default order (newest activity first)."""
        return self.value  # type: ignore[no-any-return]

    @classmethod
    def of(cls, contract: Contract, sort: Sort = DEFAULT_SORT) -> Cursor:
        return cls(getattr(contract, sort.column), contract.pk, sort)

    @property
    def token(self) -> str:
        """The cursor as it travels in a link (``?after=``/``?before=``)."""
        return f"{self.sort.encode(self.value)}-{self.id.hex}"

    @classmethod
    def parse(cls, token: str, sort: Sort = DEFAULT_SORT) -> Cursor:
        """The cursor of a link's ``token`` under ``sort``.

        Raises:
            BadCursor: not a token `token` made for this order (another shape, another
                column's kind, or a value out of range).
        """
        found = _CURSOR_RE.fullmatch(token)
        if found is None:
            raise _bad_cursor()
        return cls(sort.decode(found.group(1)), uuid.UUID(hex=found.group(2)), sort)


@dataclass(frozen=True)
class Holder:
    """A party whose turn it is, as the list shows it."""

    company: str
    name: str
    undelivered: bool
    """Its request could not be delivered to its current address (R11 follow-up)."""


@dataclass(frozen=True)
class ListRow:
    """One contract of the page with its progress, shaped as `selectors.Progress` is."""

    contract: Contract
    signed: int
    total: int
    holders: list[Holder] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.signed}/{self.total}"

    @property
    def undelivered(self) -> bool:
        return any(holder.undelivered for holder in self.holders)


@dataclass(frozen=True)
class ListPage:
    """A page of rows, newest activity first; `after`/`before` are the cursors of the links to
    the next (older) and previous (newer) pages, None where there is none."""

    rows: list[ListRow]
    after: Cursor | None
    before: Cursor | None


class _JSONRows(Aggregate):
    """A JSON array (as text) with one array per grouped row: ``[[a, b, …], …]``.

    PostgreSQL's ``json_agg`` and SQLite's ``json_group_array``; the order of the rows is not
    guaranteed (SQLite before 3.44 has no ORDER BY in an aggregate): the caller sorts.
    """

    output_field = TextField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, *args: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            if expression is None:  # the aggregate's unused FILTER and ORDER BY slots
                continue
            sql, more = compiler.compile(expression)
            parts.append(sql)
            params.extend(more)
        if connection.vendor == "postgresql":
            return f"json_agg(json_build_array({', '.join(parts)}))::text", tuple(params)
        if connection.vendor == "sqlite":
            return f"json_group_array(json_array({', '.join(parts)}))", tuple(params)
        raise NotImplementedError(connection.vendor)


@functools.cache
def _parties() -> Subquery:
    """Each counted party of the outer contract as ``[position, id, status, company, name,
    failed]``: one correlated subquery, whose rows give progress and holders alike.

    Built once per process: it does not depend on who asks, and `annotate` resolves a copy.
    """
    from keiyaku.notifications.models import OutboxMessage, OutboxStatus

    # As `contract_progress`: the request to the party's *current* address failed.
    failed = OutboxMessage.objects.filter(
        party=OuterRef("pk"), to=OuterRef("email"), status=OutboxStatus.FAILED
    )
    rows = (
        Party.objects.filter(contract=OuterRef("pk"), status__in=PARTY_COUNTED)
        .order_by()
        .annotate(failed=Exists(failed))
        .values("contract")
        .annotate(rows=_JSONRows("position", "id", "status", "company", "name", "failed"))
        .values("rows")
    )
    return Subquery(rows, output_field=TextField())


#: The columns the list shows (and its cursor needs); the rest of the row is not read.
SHOWN = (
    "id",
    "title",
    "management_number",
    "counterparty_company",
    "status",
    "last_activity_at",
    "imported_at",  # the 「取込」 mark (R30)
)


def _row(contract: Any) -> ListRow:
    """The same figures as `contract_progress` (the detail page), from the parties' rows."""
    parties = json.loads(contract.list_parties) if contract.list_parties else []
    parties.sort(key=lambda row: (row[0], row[1]))  # routing order: position, then id
    return ListRow(
        contract=contract,
        signed=sum(1 for row in parties if row[2] in PARTY_DONE),
        total=len(parties),
        holders=[
            Holder(company, name, bool(failed))
            for _p, _i, status, company, name, failed in parties
            if status in PARTY_HOLDING
        ],
    )


class _Unindexed(Func):
    """A sort column as an expression that no index serves, with the column's own order.

    Ordering by it makes the database read a search's matches through the indexes of its
    conditions (a word's, a date range's) and sort them, instead of walking the list's index
    in order and testing each row (`contract_list_page`). SQLite: unary ``+`` (its documented
    way to keep an index from a term); PostgreSQL: adding nothing of the column's type.
    """

    _POSTGRESQL = {
        "time": "(%(expressions)s + interval '0 seconds')",
        "date": "(%(expressions)s + 0)",
        "int": "(%(expressions)s + 0)",
        "text": "(%(expressions)s || '')",
    }

    def __init__(self, sort: Sort) -> None:
        super().__init__(F(sort.column))
        self.kind = sort.kind

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(+%(expressions)s)", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template=self._POSTGRESQL[self.kind], **extra)


def _ordering(sort: Sort, *, reverse: bool, unindexed: bool = False) -> tuple[Any, Any]:
    """ORDER BY of `sort` (empty values last), or of its exact reverse (empty values first);
    ``unindexed``: by `_Unindexed` expressions of the same order."""
    descending = sort.descending != reverse
    value: Any = _Unindexed(sort) if unindexed else F(sort.column)
    if sort.nullable:
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        column = value.desc(**nulls) if descending else value.asc(**nulls)
    else:
        column = value.desc() if descending else value.asc()
    return column, (F("pk").desc() if descending else F("pk").asc())


def _beyond(sort: Sort, cursor: Cursor, *, reverse: bool) -> Q:
    """The rows strictly after `cursor` in `sort`'s order (or in its reverse)."""
    column, value = sort.column, cursor.value
    step = "lt" if sort.descending != reverse else "gt"
    if value is None:  # the cursor is among the empty values, ordered by id
        within = Q(**{f"{column}__isnull": True, f"pk__{step}": cursor.id})
        # Read in reverse, every row with a value comes after the empty ones.
        return within | Q(**{f"{column}__isnull": False}) if reverse else within
    found = Q(**{f"{column}__{step}": value}) | Q(**{column: value, f"pk__{step}": cursor.id})
    if sort.nullable and not reverse:
        return found | Q(**{f"{column}__isnull": True})
    # The bound on the column alone lets the index range scan start at the cursor.
    return Q(**{f"{column}__{step}e": value}) & found


def _window(
    contracts: QuerySet[Contract, Any],
    *,
    size: int,
    after: Cursor | None,
    before: Cursor | None,
    sort: Sort = DEFAULT_SORT,
    unindexed: bool = False,
) -> QuerySet[Contract, Any]:
    """`size` + 1 rows of `contracts` in `sort`'s order from the cursor, or, after `before`,
    in the reverse order (the page read upwards from the cursor)."""
    if before is not None:
        return contracts.filter(_beyond(sort, before, reverse=True)).order_by(
            *_ordering(sort, reverse=True, unindexed=unindexed)
        )[: size + 1]
    if after is not None:
        contracts = contracts.filter(_beyond(sort, after, reverse=False))
    return contracts.order_by(*_ordering(sort, reverse=False, unindexed=unindexed))[: size + 1]


def contract_list_query(
    staff: Staff,
    *,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
    sort: Sort = DEFAULT_SORT,
) -> QuerySet[Contract]:
    """The one query of an unfiltered page (see `contract_list_page`): `size` + 1 rows, the
    extra one telling whether there is a page beyond. Rows come in `sort`'s order (newest
    activity first by default), except after `before`: in its reverse. bench/staff_list.py
    runs its SQL raw."""
    return _merged(
        contracts_visible_to_parts(staff), size=size, after=after, before=before, sort=sort
    )


def _merged(
    parts: list[QuerySet[Contract, Any]],
    *,
    size: int,
    after: Cursor | None,
    before: Cursor | None,
    sort: Sort,
    unindexed: bool = False,
) -> QuerySet[Contract]:
    """`size` + 1 rows of the union of ``parts`` from the cursor, with the columns shown and
    their parties; in one query.

    An admin's page is one walk of ``contract_list_order`` (the ids; then the rows and their
    parties for those ids only). Anyone else sees a contract for one
    of several reasons (`contracts_visible_to_parts`: department, author, party, share); a
    single filter ORing them can only walk the organisation's index and test each row, which
    passes a thousand rows per row shown for someone who sees one contract in a thousand. So
    each reason's window (its own `size` + 1 rows from the cursor, on its own index or through
    the parties or shares that name the person) is read apart, the windows are merged (UNION
    ALL: at most five times `size` + 1 ids) and the page is the first `size` + 1 of them.
    ``unindexed``: each window's rows are sorted by `_Unindexed`, so that the database reads
    them through their conditions' indexes rather than walking the order's.
    """
    if after is not None and before is not None:
        raise ValueError("after or before, not both")
    if not parts:
        return Contract.objects.none()
    shown = (*SHOWN, sort.column) if sort.column not in SHOWN else SHOWN
    if len(parts) == 1:
        # The window's ids first, then the rows and their parties for those ids only: SQLite
        # computes a row's columns (the parties' subquery) before it sorts, so a window that
        # must sort many matching rows (a date range, a rare word) would compute them all.
        ids = _window(
            parts[0].values("pk"),
            unindexed=unindexed,
            size=size,
            after=after,
            before=before,
            sort=sort,
        )
        contracts = Contract.objects.filter(pk__in=ids).only(*shown)
        contracts = contracts.annotate(list_parties=_parties())
        return contracts.order_by(*_ordering(sort, reverse=before is not None))
    windows: list[QuerySet[Contract, Any]] = [
        _window(
            part.values("pk"), unindexed=unindexed, size=size, after=after, before=before, sort=sort
        )
        for part in parts
    ]
    if not connections[windows[0].db].features.supports_slicing_ordering_in_compound:
        # SQLite: a UNION member may not carry its own ORDER BY and LIMIT; wrapped, it may.
        windows = [Contract.objects.filter(pk__in=w).order_by().values("pk") for w in windows]
    contracts = (
        Contract.objects.filter(pk__in=windows[0].union(*windows[1:], all=True))
        .only(*shown)
        .annotate(list_parties=_parties())
    )
    # The windows start at the cursor already: the merged rows need only the order.
    return contracts.order_by(*_ordering(sort, reverse=before is not None))[: size + 1]


def _search_rows(
    staff: Staff,
    search: SearchConditions,
    *,
    size: int,
    after: Cursor | None,
    before: Cursor | None,
    sort: Sort,
) -> list[Contract]:
    """`size` + 1 rows of a search from the cursor, read the way its plan says
    (`SearchConditions.plan`; docs/architecture.md, Contract search):

    - matches that are many (「工事」, an amount range): each reason's index walked in the
      list's order (`contracts_visible_to_parts`), each contract tested, until the page is
      full;
    - matches that are few (a rare word, a month of contract dates): read once through the
      indexes of those conditions, kept where the reader may see them
      (`contracts_visible_to`: on a few rows, its OR of reasons costs little) and sorted
      (`_Unindexed`), never the order walked: a month of contract dates lies deep in an order
      of last activity, which a walk would reach only after hundreds of thousands of rows.
    """
    # Made once: it asks the indexes how common the words and ranges are.
    plan = search.plan(staff.organisation_id)  # type: ignore[arg-type]  # a member's
    if plan.collected is not None and plan.tested is not None:
        return _collected_then_tested(
            contracts_visible_to(staff),
            plan.collected,
            plan.tested,
            size=size,
            after=after,
            before=before,
            sort=sort,
        )
    if plan.collect:
        narrowed = [contracts_visible_to(staff).filter(plan.condition)]
    else:
        narrowed = [part.filter(plan.condition) for part in contracts_visible_to_parts(staff)]
    return list(
        _merged(narrowed, size=size, after=after, before=before, sort=sort, unindexed=plan.collect)
    )


def _collected_then_tested(
    visible: QuerySet[Contract, Any],
    collected: Q,
    tested: Q,
    *,
    size: int,
    after: Cursor | None,
    before: Cursor | None,
    sort: Sort,
) -> list[Contract]:
    """`size` + 1 rows of a search with a rare word and a common one (`SearchPlan.collected`).

    One query reads the contracts the rare word's index gives (with every condition but the
    common words) and sorts them, as a subquery the engine may not merge into the outer one
    (SQLite: ``LIMIT -1``; PostgreSQL: ``OFFSET 0``); the outer query tests the common words on
    them in that order, each as a scalar subquery (which neither engine turns into a join over
    every contract), and stops at `size` + 1 (``LIMIT``). A second query reads those rows with
    their parties. Testing the common words on every contract the rare word gives, before
    sorting them, tested 5,620 contracts for 51 shown (「清掃」 in titles and 「中央」 anywhere,
    bench/search.py); now about 400 are tested, and a document's text makes each test dearer.
    """
    candidates = visible.filter(collected)
    cursor = before if before is not None else after
    if cursor is not None:
        candidates = candidates.filter(_beyond(sort, cursor, reverse=before is not None))
    ordering = _ordering(sort, reverse=before is not None, unindexed=True)
    sorted_sql, sorted_params = candidates.order_by(*ordering).values("pk").query.sql_with_params()
    # The common words' test of one sorted contract: its own row, found by id.
    test_sql, test_params = (
        Contract.objects.filter(pk=RawSQL("collected.pk", ()))
        .filter(tested)
        .order_by()
        .values("pk")
        .query.sql_with_params()
    )
    connection = connections[candidates.db]
    fence = "LIMIT -1" if connection.vendor == "sqlite" else "OFFSET 0"
    with connection.cursor() as reading:
        reading.execute(
            f"SELECT collected.pk FROM ({sorted_sql} {fence}) collected "  # noqa: S608 - compiled by the ORM
            f"WHERE ({test_sql} LIMIT 1) IS NOT NULL LIMIT %s",
            (*sorted_params, *test_params, size + 1),
        )
        passed = [row[0] for row in reading.fetchall()]
    shown = (*SHOWN, sort.column) if sort.column not in SHOWN else SHOWN
    return list(
        Contract.objects.filter(pk__in=passed)
        .only(*shown)
        .annotate(list_parties=_parties())
        .order_by(*_ordering(sort, reverse=before is not None))
    )


def contract_list_page(
    staff: Staff,
    *,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
    search: SearchConditions | None = None,
    sort: Sort = DEFAULT_SORT,
) -> ListPage:
    """The page of the contracts `staff` may see (R1, R29) that follows `after` or precedes
    `before` in `sort`'s order, or the first page; at most `size` rows. One query, whatever
    `size` is.

    Args:
        staff: who asks; the rows are `contracts_visible_to(staff)`.
        size: rows per page (KEIYAKU_CONTRACT_LIST_PAGE_SIZE in the view), at least 1.
        after, before: at most one of them; a cursor from a previous page's links.
        search: conditions the rows must also meet (R28; `keiyaku.contracts.search`).
        sort: the order (`SORTS`; R28: every column); the cursors must be of the same order.

    Raises `search_index.WordTooLong` for a search word over its limit.
    """
    if after is not None and before is not None:
        raise ValueError("after or before, not both")
    parts = contracts_visible_to_parts(staff)
    if not parts:
        found: list[Contract] = []
    elif search is not None and not search.is_empty:
        # Narrows what the reader sees: a search never widens (R29).
        found = _search_rows(staff, search, size=size, after=after, before=before, sort=sort)
    else:
        found = list(_merged(parts, size=size, after=after, before=before, sort=sort))
    more = len(found) > size
    found = found[:size]
    if before is not None:
        found.reverse()  # read upwards from the cursor; shown newest first
        return ListPage(
            rows=[_row(c) for c in found],
            after=Cursor.of(found[-1], sort) if found else None,
            before=Cursor.of(found[0], sort) if found and more else None,
        )
    return ListPage(
        rows=[_row(c) for c in found],
        after=Cursor.of(found[-1], sort) if found and more else None,
        before=Cursor.of(found[0], sort) if found and after is not None else None,
    )
