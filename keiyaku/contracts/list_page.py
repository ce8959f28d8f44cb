"""One page of the staff contract list (「案件一覧」), read in one SQL query (issue 12).

The list is ordered by last activity, newest first, with the contract id as the tie-breaker,
and paged by keyset: a page ends at a `Cursor` (the last row's last activity and id) and the
next page starts strictly after it, so a deep page costs what the first one does and a
contract changed while someone pages is neither shown twice nor skipped on the pages ahead.
The index ``contract_list_order`` (organisation, last_activity_at, id) serves that order under
the visibility filter's leading column; see docs/architecture.md (Staff contract list).

Each row's progress (parties done / parties counted), current holders (the parties whose turn
it is, in routing order) and whether a holder's request could not be delivered are
correlated subqueries of the same query, evaluated only for the rows of the page: the number
of queries does not grow with the page size. `keiyaku.contracts.selectors.contract_progress`
computes the same for one contract (the detail page) and is the list's test oracle.

Which contracts appear is `contracts_visible_to` (R1, R29), never widened here.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import (
    Aggregate,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from keiyaku.accounts.models import Staff
from keiyaku.contracts.models import Contract, Party
from keiyaku.contracts.selectors import contracts_visible_to
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


def _party_count(statuses: frozenset[Any]) -> Coalesce:
    counted = (
        Party.objects.filter(contract=OuterRef("pk"), status__in=statuses)
        .order_by()
        .values("contract")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _holders() -> Subquery:
    from keiyaku.notifications.models import OutboxMessage, OutboxStatus

    # Same rule as `contract_progress`: a holder's request to its *current* address failed.
    failed = OutboxMessage.objects.filter(
        party=OuterRef("pk"), to=OuterRef("email"), status=OutboxStatus.FAILED
    )
    rows = (
        Party.objects.filter(contract=OuterRef("pk"), status__in=PARTY_HOLDING)
        .order_by()
        .annotate(failed=Exists(failed))
        .values("contract")
        .annotate(rows=_JSONRows("position", "id", "company", "name", "failed"))
        .values("rows")
    )
    return Subquery(rows, output_field=TextField())


def _annotated(staff: Staff) -> Any:
    return contracts_visible_to(staff).annotate(
        list_total=_party_count(PARTY_COUNTED),
        list_done=_party_count(PARTY_DONE),
        list_holders=_holders(),
    )


def _row(contract: Any) -> ListRow:
    found = json.loads(contract.list_holders) if contract.list_holders else []
    found.sort(key=lambda row: (row[0], row[1]))  # routing order: position, then id
    return ListRow(
        contract=contract,
        signed=contract.list_done,
        total=contract.list_total,
        holders=[Holder(company, name, bool(failed)) for _p, _i, company, name, failed in found],
    )


def contract_list_page(
    staff: Staff, *, size: int, after: Cursor | None = None, before: Cursor | None = None
) -> ListPage:
    """The page of the contracts `staff` may see (R1, R29) that follows `after` (older
    activity) or precedes `before` (newer), or the first page; at most `size` rows, newest
    activity first. One query, whatever `size` is.

    Args:
        staff: who asks; the rows are `contracts_visible_to(staff)`.
        size: rows per page (KEIYAKU_CONTRACT_LIST_PAGE_SIZE in the view), at least 1.
        after, before: at most one of them; a cursor from a previous page's links.
    """
    if after is not None and before is not None:
        raise ValueError("after or before, not both")
    contracts = _annotated(staff)
    if before is not None:
        # The rows just newer than the cursor, read upwards, then shown newest first.
        newer = Q(last_activity_at__gt=before.last_activity_at) | Q(
            last_activity_at=before.last_activity_at, pk__gt=before.id
        )
        found = list(
            contracts.filter(last_activity_at__gte=before.last_activity_at)
            .filter(newer)
            .order_by("last_activity_at", "pk")[: size + 1]
        )
        more_before = len(found) > size
        found = found[:size][::-1]
        rows = [_row(c) for c in found]
        return ListPage(
            rows=rows,
            after=Cursor.of(found[-1]) if found else None,
            before=Cursor.of(found[0]) if found and more_before else None,
        )
    if after is not None:
        # The bound on the first column alone lets the index range scan start at the cursor.
        older = Q(last_activity_at__lt=after.last_activity_at) | Q(
            last_activity_at=after.last_activity_at, pk__lt=after.id
        )
        contracts = contracts.filter(last_activity_at__lte=after.last_activity_at).filter(older)
    found = list(contracts.order_by("-last_activity_at", "-pk")[: size + 1])
    more_after = len(found) > size
    found = found[:size]
    return ListPage(
        rows=[_row(c) for c in found],
        after=Cursor.of(found[-1]) if found and more_after else None,
        before=Cursor.of(found[0]) if found and after is not None else None,
    )
