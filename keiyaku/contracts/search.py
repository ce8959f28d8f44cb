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

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keiyaku.contracts.custom_fields import CustomCondition
from keiyaku.contracts.models import Contract, Surety
from keiyaku.contracts.search_index import SearchField, normalise, word_matches
from keiyaku.refusals import Refusal

__all__ = ["BadSearch", "SearchConditions"]


class BadSearch(Refusal):
    """Search conditions that cannot hold together (a range whose start is after its end)."""

    default_code = "bad_search"


def _words(text: str) -> tuple[str, ...]:
    """Words separated by spaces (half-width or full-width): all of them must match."""
    return tuple(text.replace("\u3000", " ").split())


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
        found = Q()
        for text, where in (
            (self.words, None),  # anywhere, custom fields included
            (self.title, (SearchField.TITLE,)),
            (self.filename, (SearchField.FILENAME,)),
            (self.counterparty, (SearchField.COUNTERPARTY,)),
            (self.number, (SearchField.NUMBER,)),
        ):
            for word in _words(text):
                matches = word_matches(word, where)
                if matches is not None:
                    found &= matches
        if self.department_id is not None:
            found &= Q(department_id=self.department_id)
        if self.statuses:
            found &= Q(status__in=self.statuses)
        if self.amount_min is not None:
            found &= Q(amount__gte=self.amount_min)
        if self.amount_max is not None:
            found &= Q(amount__lte=self.amount_max)
        if self.contract_date_from is not None:
            found &= Q(contract_date__gte=self.contract_date_from)
        if self.contract_date_to is not None:
            found &= Q(contract_date__lte=self.contract_date_to)
        if self.period_end_from is not None:
            found &= Q(period_end__gte=self.period_end_from)
        if self.period_end_to is not None:
            found &= Q(period_end__lte=self.period_end_to)
        if self.signed_from is not None:
            found &= Q(completed_at__gte=_jst_midnight(self.signed_from))
        if self.signed_to is not None:
            found &= Q(completed_at__lt=_jst_midnight(self.signed_to + dt.timedelta(days=1)))
        for custom in self.custom:
            found &= custom.condition()
        if surety_number := normalise(self.surety_number):
            # A contract has few sureties: a substring test over them is no full scan of the
            # contracts (the match is a semi-join on the sureties table). Current values only:
            # a removed surety, or a number since corrected, finds nothing (R32).
            found &= Q(
                pk__in=Surety.objects.current()
                .filter(number_normalised__contains=surety_number)
                .values("contract_id")
            )
        return found

    def apply(self, contracts: QuerySet[Contract, Any]) -> QuerySet[Contract, Any]:
        """``contracts`` narrowed to those that meet every condition (never widened)."""
        return contracts if self.is_empty else contracts.filter(self.condition())


def _jst_midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in the site's time zone (Asia/Tokyo), as an aware time."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
