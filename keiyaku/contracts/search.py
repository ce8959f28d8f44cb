"""Contract search conditions (R28; 電子帳簿保存法's 検索機能の確保): what staff may ask for.

Every condition is optional and they combine with AND: words (anywhere, or in the title, a
file name, the counterparty, the 管理番号), department, status, amount range, contract-date,
signing-date and period-end ranges, a surety's 保証契約番号 (R32). Words match inside longer text (部分一致) through the
bigram index (`search_index`), after NFKC, so half-width and full-width forms match.

A search never widens what a person sees: `SearchConditions.apply` narrows each of the
visibility selector's querysets (`contracts_visible_to_parts`, R29), and the list reads only
those (list_page.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from keiyaku.contracts.custom_fields import CustomCondition
from keiyaku.contracts.models import Contract, Surety
from keiyaku.contracts.search_index import (
    SearchField,
    WordFilter,
    normalise,
    planner_rows,
    word_filter,
)
from keiyaku.contracts.timefmt import jst_days
from keiyaku.refusals import Refusal

__all__ = ["BadSearch", "SearchConditions", "SearchPlan"]


class BadSearch(Refusal):
    """Search conditions that cannot hold together (a range whose start is after its end)."""

    default_code = "bad_search"


def _words(text: str) -> tuple[str, ...]:
    """Words separated by spaces (half-width or full-width): all of them must match."""
    return tuple(text.replace("\u3000", " ").split())


RANGE_COLLECT_ROWS = {"sqlite": 50_000, "postgresql": 30_000}
"""Contracts of the organisation, per engine, up to which a range on an indexed column (the
contract date, the signing day, the period's end) makes the list read the matches through
that index and sort them, rather than walk its own order (`SearchPlan.collect`)."""

# The columns with an index led by the organisation (contracts migration 0020).
_RANGE_COLUMNS = ("contract_date", "completed_at", "period_end")


@dataclass(frozen=True)
class SearchPlan:
    """One search as the contract list reads it (list_page.py; docs/architecture.md,
    Contract search)."""

    condition: Q
    """Every condition, each word in the shape its number of index rows calls for."""
    collect: bool
    """Few contracts can match (a word in few index rows, a short range of an indexed date,
    a 保証契約番号): read them through those indexes and sort them. Otherwise matches are
    many: walk the list's own order, testing each contract, until the page is full."""
    collected: Q | None = None
    """When a word in few index rows is read through the index and another word, common, is
    tested contract by contract: every condition but the tested words (bounded by the rare
    word's rows). The list sorts these contracts first and tests the common words on them in
    order, until the page is full (list_page.py), instead of testing every one of them."""
    tested: Q | None = None
    """The common words' tests that go with `collected`."""


@dataclass(frozen=True)
class SearchConditions:
    """One search. Text conditions hold the text as typed; dates are JST calendar days and
    both ends of a range are included; amounts are yen."""

    words: str = ""
    """Anywhere: title, 管理番号, counterparty and parties, file names, 備考, documents' text."""
    title: str = ""
    filename: str = ""
    counterparty: str = ""
    number: str = ""
    department_id: int | None = None
    statuses: tuple[str, ...] = ()
    amount_min: int | None = None
    amount_max: int | None = None
    contract_date_from: dt.date | None = None
    contract_date_to: dt.date | None = None
    signed_from: dt.date | None = None
    """The day the contract was concluded (completed_at, JST)."""
    signed_to: dt.date | None = None
    period_end_from: dt.date | None = None
    period_end_to: dt.date | None = None
    custom: tuple[CustomCondition, ...] = ()
    """Conditions on the organisation's custom fields (`custom_fields.CustomCondition`)."""
    surety_number: str = ""
    """A 保証契約番号 (R32), whole or in part (部分一致), compared after
    `search_index.normalise`: 「ＡＢ－１２３」, 「ab123」 and 「AB-123」 are one number."""

    def __post_init__(self) -> None:
        pairs = (
            ("amount_min", "amount_max", _("金額")),
            ("contract_date_from", "contract_date_to", _("契約日")),
            ("signed_from", "signed_to", _("締結日")),
            ("period_end_from", "period_end_to", _("契約期間（終了）")),
        )
        for low, high, label in pairs:
            start, end = getattr(self, low), getattr(self, high)
            if start is not None and end is not None and start > end:
                raise BadSearch(
                    _("%(label)sの範囲は、始まりを終わり以前にしてください。") % {"label": label},
                    field=low,
                )
        for custom in self.custom:
            if custom.low is not None and custom.high is not None and custom.low > custom.high:  # type: ignore[operator]
                raise BadSearch(
                    _("%(label)sの範囲は、始まりを終わり以前にしてください。")
                    % {"label": _("項目")},
                    field=f"cf_{custom.field_id}_min",
                )

    @property
    def is_empty(self) -> bool:
        """No condition at all: the plain list."""
        return all(getattr(self, f.name) in ("", None, ()) for f in fields(self))

    def condition(self) -> Q:
        """The conditions as one filter on Contract (Q() when there are none).

        Raises `search_index.WordTooLong` for a word over its limit.
        """
        return self._words_and_condition()[1]

    def plan(self, organisation_id: int) -> SearchPlan:
        """The conditions and how the list should read them (`SearchPlan`), for the contracts
        of ``organisation_id``; asks the word index how common each word is and, for a range
        of an indexed date, how many contracts it holds (a capped count on SQLite, the
        planner's estimate on PostgreSQL).

        Raises `search_index.WordTooLong` for a word over its limit.
        """
        words, condition = self._words_and_condition()
        rare = [word for word in words if word.collectable]
        common = [word for word in words if not word.collectable]
        collect = (
            bool(rare)
            or bool(normalise(self.surety_number))  # a contract has few sureties
            or self._range_rows(organisation_id) <= RANGE_COLLECT_ROWS[connection.vendor]
        )
        if rare and common:
            # The rare word bounds the contracts read (COLLECT_ROWS); the common ones are
            # tested on them in the list's order until the page is full.
            collected, tested = self._columns(), Q()
            for word in rare:
                collected &= word.matches()
            for word in common:
                tested &= word.matches()
            return SearchPlan(condition, collect, collected=collected, tested=tested)
        return SearchPlan(condition=condition, collect=collect)

    def _words_and_condition(self) -> tuple[list[WordFilter], Q]:
        words: list[WordFilter] = []
        for text, where in (
            (self.words, None),  # anywhere, custom fields included
            (self.title, (SearchField.TITLE,)),
            (self.filename, (SearchField.FILENAME,)),
            (self.counterparty, (SearchField.COUNTERPARTY,)),
            (self.number, (SearchField.NUMBER,)),
        ):
            for word in _words(text):
                found = word_filter(word, where)
                if found is not None:
                    words.append(found)
        condition = self._columns()
        for each in words:
            condition &= each.matches()
        return words, condition

    def _range_rows(self, organisation_id: int) -> int:
        """About how many of the organisation's contracts the ranges on indexed dates hold
        (the smallest range on SQLite, all of them together on PostgreSQL), at most
        RANGE_COLLECT_ROWS + 1; that + 1 where there is no such range."""
        limit = RANGE_COLLECT_ROWS[connection.vendor]
        ranges = [
            (column, condition)
            for column, condition in self._column_conditions()
            if column in _RANGE_COLUMNS
        ]
        if not ranges:
            return limit + 1
        contracts = Contract.objects.filter(organisation_id=organisation_id)
        if connection.vendor == "postgresql":
            for _column, condition in ranges:
                contracts = contracts.filter(condition)
            sql, params = contracts.values("pk").query.sql_with_params()
            return min(planner_rows(sql, params), limit + 1)
        # Counted on each range's own index (organisation, column): no row is read.
        return min(
            contracts.filter(condition).order_by().values(column)[: limit + 1].count()
            for column, condition in ranges
        )

    def _columns(self) -> Q:
        """Every condition but the words."""
        found = Q()
        for _column, condition in self._column_conditions():
            found &= condition
        return found

    def _column_conditions(self) -> list[tuple[str, Q]]:
        """(the column it restricts, or "" for another table, condition) of every condition
        but the words."""
        found: list[tuple[str, Q]] = []
        if self.department_id is not None:
            found.append(("department", Q(department_id=self.department_id)))
        if self.statuses:
            found.append(("status", Q(status__in=self.statuses)))
        for column, low, high in (
            ("amount", self.amount_min, self.amount_max),
            ("contract_date", self.contract_date_from, self.contract_date_to),
            ("period_end", self.period_end_from, self.period_end_to),
        ):
            if low is not None or high is not None:
                within = Q()
                if low is not None:
                    within &= Q(**{f"{column}__gte": low})
                if high is not None:
                    within &= Q(**{f"{column}__lte": high})
                found.append((column, within))
        if self.signed_from is not None or self.signed_to is not None:
            start, end = jst_days(self.signed_from, self.signed_to)
            signed = Q()
            if start is not None:
                signed &= Q(completed_at__gte=start)
            if end is not None:
                signed &= Q(completed_at__lt=end)
            if start is None and end is None:  # ends beyond every time: concluded at all
                signed = Q(completed_at__isnull=False)
            found.append(("completed_at", signed))
        for custom in self.custom:
            found.append(("", custom.condition()))
        if surety_number := normalise(self.surety_number):
            # A contract has few sureties: a substring test over them is no full scan of the
            # contracts (the match is a semi-join on the sureties table).
            found.append(
                (
                    "",
                    Q(
                        pk__in=Surety.objects.current()
                        .filter(number_normalised__contains=surety_number)
                        .values("contract_id")
                    ),
                )
            )
        return found

    def apply(self, contracts: QuerySet[Contract, Any]) -> QuerySet[Contract, Any]:
        """``contracts`` narrowed to those that meet every condition (never widened)."""
        return contracts if self.is_empty else contracts.filter(self.condition())
