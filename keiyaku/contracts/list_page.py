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

import functools
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.utils.translation import gettext_lazy as _

from keiyaku.accounts.models import Staff
from keiyaku.contracts.models import Contract, Party
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.selectors import contracts_visible_to_parts
from keiyaku.contracts.states import PARTY_COUNTED, PARTY_DONE, PARTY_HOLDING
from keiyaku.refusals import Refusal

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# "<microseconds since 1970 UTC>-<contract id, 32 hex digits>"
_CURSOR_RE = re.compile(r"(-?[0-9]{1,19})-([0-9a-f]{32})")


class BadCursor(Refusal):
    """A page link whose position cannot be read (edited or cut short): a 400, never a 500."""

    default_code = "bad_cursor"


@dataclass(frozen=True)
class Cursor:
    """A position in the list: a row's last activity (aware, microseconds) and id."""

    last_activity_at: datetime
    id: uuid.UUID

    @classmethod
    def of(cls, contract: Contract) -> Cursor:
        return cls(contract.last_activity_at, contract.pk)

    @property
    def token(self) -> str:
        """The cursor as it travels in a link (``?after=``/``?before=``)."""
        micros = (self.last_activity_at - _EPOCH) // _MICROSECOND
        return f"{micros}-{self.id.hex}"

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """The cursor of a link's ``token``.

        Raises:
            BadCursor: not a token `token` made (another shape, or a time out of range).
        """
        found = _CURSOR_RE.fullmatch(token)
        if found is None:
            raise BadCursor(_("ページの指定が正しくありません。一覧の最初から開き直してください。"))
        try:
            at = _EPOCH + int(found.group(1)) * _MICROSECOND
        except OverflowError as exc:
            raise BadCursor(
                _("ページの指定が正しくありません。一覧の最初から開き直してください。")
            ) from exc
        return cls(at, uuid.UUID(hex=found.group(2)))


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


def _window(
    contracts: QuerySet[Contract, Any], *, size: int, after: Cursor | None, before: Cursor | None
) -> QuerySet[Contract, Any]:
    """`size` + 1 rows of `contracts` in list order from the cursor: newest first, or, after
    `before`, oldest first (the page read upwards from the cursor)."""
    if before is not None:
        newer = Q(last_activity_at__gt=before.last_activity_at) | Q(
            last_activity_at=before.last_activity_at, pk__gt=before.id
        )
        # The bound on the first column alone lets the index range scan start at the cursor.
        contracts = contracts.filter(last_activity_at__gte=before.last_activity_at).filter(newer)
        return contracts.order_by("last_activity_at", "pk")[: size + 1]
    if after is not None:
        older = Q(last_activity_at__lt=after.last_activity_at) | Q(
            last_activity_at=after.last_activity_at, pk__lt=after.id
        )
        contracts = contracts.filter(last_activity_at__lte=after.last_activity_at).filter(older)
    return contracts.order_by("-last_activity_at", "-pk")[: size + 1]


def contract_list_query(
    staff: Staff,
    *,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
    search: SearchConditions | None = None,
) -> QuerySet[Contract]:
    """The one query of a page (see `contract_list_page`): `size` + 1 rows, the extra one
    telling whether there is a page beyond. Rows come newest first, except after `before`:
    oldest first. bench/staff_list.py runs its SQL raw.

    An admin's page is one walk of ``contract_list_order``. Anyone else sees a contract for one
    of several reasons (`contracts_visible_to_parts`: department, author, party, share); a
    single filter ORing them can only walk the organisation's index and test each row, which
    passes a thousand rows per row shown for someone who sees one contract in a thousand. So
    each reason's window (its own `size` + 1 rows from the cursor, on its own index or through
    the parties or shares that name the person) is read apart, the windows are merged (UNION
    ALL: at most five times `size` + 1 ids) and the page is the first `size` + 1 of them.
    """
    if after is not None and before is not None:
        raise ValueError("after or before, not both")
    parts = contracts_visible_to_parts(staff)
    if search is not None:  # narrows each reason's rows: a search never widens (R29)
        parts = [search.apply(part) for part in parts]
    if not parts:
        return Contract.objects.none()
    if len(parts) == 1:
        contracts = parts[0].only(*SHOWN).annotate(list_parties=_parties())
        return _window(contracts, size=size, after=after, before=before)
    windows: list[QuerySet[Contract, Any]] = [
        _window(part.values("pk"), size=size, after=after, before=before) for part in parts
    ]
    if not connections[windows[0].db].features.supports_slicing_ordering_in_compound:
        # SQLite: a UNION member may not carry its own ORDER BY and LIMIT; wrapped, it may.
        windows = [Contract.objects.filter(pk__in=w).order_by().values("pk") for w in windows]
    contracts = (
        Contract.objects.filter(pk__in=windows[0].union(*windows[1:], all=True))
        .only(*SHOWN)
        .annotate(list_parties=_parties())
    )
    # The windows start at the cursor already: the merged rows need only the order.
    order = ("last_activity_at", "pk") if before is not None else ("-last_activity_at", "-pk")
    return contracts.order_by(*order)[: size + 1]


def contract_list_page(
    staff: Staff,
    *,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
    search: SearchConditions | None = None,
) -> ListPage:
    """The page of the contracts `staff` may see (R1, R29) that follows `after` (older
    activity) or precedes `before` (newer), or the first page; at most `size` rows, newest
    activity first. One query, whatever `size` is.

    Args:
        staff: who asks; the rows are `contracts_visible_to(staff)`.
        size: rows per page (KEIYAKU_CONTRACT_LIST_PAGE_SIZE in the view), at least 1.
        after, before: at most one of them; a cursor from a previous page's links.
        search: conditions the rows must also meet (R28; `keiyaku.contracts.search`).

    Raises `search_index.WordTooLong` for a search word over its limit.
    """
    found = list(contract_list_query(staff, size=size, after=after, before=before, search=search))
    more = len(found) > size
    found = found[:size]
    if before is not None:
        found.reverse()  # read upwards from the cursor; shown newest first
        return ListPage(
            rows=[_row(c) for c in found],
            after=Cursor.of(found[-1]) if found else None,
            before=Cursor.of(found[0]) if found and more else None,
        )
    return ListPage(
        rows=[_row(c) for c in found],
        after=Cursor.of(found[-1]) if found and more else None,
        before=Cursor.of(found[0]) if found and after is not None else None,
    )
