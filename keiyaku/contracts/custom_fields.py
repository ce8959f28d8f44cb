"""Custom fields on contracts (issue 15): each organisation's own items, their values, their search.

An organisation's admins define the items (`services.custom_fields`); staff fill them in when
they create a contract (and when they import one); the contract page shows them; search finds
a text value by a word inside it (the word index, `search_index`), a number or a date by range
and a choice by value. Values are parsed here, once, for every way in: the form, the import
CSV, the API.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import Q
from django.utils.translation import gettext as _

from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract, CustomField, CustomFieldKind, CustomValue
from keiyaku.text_input import forbidden_characters

__all__ = [
    "CustomCondition",
    "custom_fields_of",
    "custom_values_clean",
    "custom_values_of",
    "custom_values_store",
    "parse_custom_value",
]

MAX_NUMBER = Decimal("9999999999999999")  # 16 digits before the point (max_digits 20, 4 after)


def custom_fields_of(organisation_id: int | None, *, active: bool = True) -> list[CustomField]:
    """The organisation's custom fields in their order (only the active ones by default)."""
    if organisation_id is None:
        return []
    fields = CustomField.objects.filter(organisation_id=organisation_id)
    return list(fields.filter(active=True) if active else fields)


def parse_custom_value(field: CustomField, raw: str) -> str | Decimal | dt.date | None:
    """``raw`` (as typed, or from a CSV cell) as ``field``'s kind; None for an empty value.

    Numbers accept full-width digits and thousands separators (「１，２００」); dates are
    YYYY-MM-DD or YYYY/MM/DD; a choice must be one of the field's choices exactly (after NFKC).
    Raises ContractError naming the field, in Japanese.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return None
    label = field.label
    if field.kind == CustomFieldKind.NUMBER:
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or abs(number) > MAX_NUMBER:
            raise ContractError(
                _("「%(label)s」は数値で入力してください。") % {"label": label},
                code="custom_number",
                field=f"custom_{field.pk}",
            )
        return number.quantize(Decimal("0.0001"))  # the column keeps four places
    if field.kind == CustomFieldKind.DATE:
        try:
            return dt.date.fromisoformat(text.replace("/", "-"))
        except ValueError:
            raise ContractError(
                _("「%(label)s」は日付（例: 2026-04-01）で入力してください。") % {"label": label},
                code="custom_date",
                field=f"custom_{field.pk}",
            ) from None
    if field.kind == CustomFieldKind.CHOICE:
        choices = [unicodedata.normalize("NFKC", c) for c in field.choices]
        if text not in choices:
            raise ContractError(
                _("「%(label)s」は選択肢から選んでください。") % {"label": label},
                code="custom_choice",
                field=f"custom_{field.pk}",
            )
        return field.choices[choices.index(text)]
    value = (raw or "").strip()
    if len(value) > 500 or forbidden_characters(value):
        raise ContractError(
            _("「%(label)s」は改行や制御文字を含まない500文字以内で入力してください。")
            % {"label": label},
            code="custom_text",
            field=f"custom_{field.pk}",
        )
    return value


def custom_values_clean(
    organisation_id: int, raw: Mapping[int, str]
) -> dict[CustomField, str | Decimal | dt.date]:
    """Every active field of the organisation parsed from ``raw`` (field id → text as typed).

    Raises ContractError for a required field left empty, a value of the wrong kind, or a field
    id that is not the organisation's active field (another organisation's id is refused too).
    """
    fields = {field.pk: field for field in custom_fields_of(organisation_id)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise ContractError(_("存在しない項目が指定されました。"), code="custom_unknown")
    cleaned: dict[CustomField, str | Decimal | dt.date] = {}
    for field_id, field in fields.items():
        value = parse_custom_value(field, raw.get(field_id, ""))
        if value is None or value == "":
            if field.required:
                raise ContractError(
                    _("「%(label)s」を入力してください。") % {"label": field.label},
                    code="custom_required",
                    field=f"custom_{field.pk}",
                )
            continue
        cleaned[field] = value
    return cleaned


def custom_values_store(
    contract: Contract, cleaned: Mapping[CustomField, str | Decimal | dt.date]
) -> None:
    """Write ``cleaned`` (from `custom_values_clean`) as the contract's values, replacing those
    it had for the same fields. In the caller's transaction."""
    for field, value in cleaned.items():
        columns: dict[str, object] = {"text": "", "number": None, "date": None}
        if isinstance(value, Decimal):
            columns["number"] = value
        elif isinstance(value, dt.date):
            columns["date"] = value
        else:
            columns["text"] = value
        CustomValue.objects.update_or_create(contract=contract, field=field, defaults=columns)


def custom_values_of(contract: Contract) -> list[tuple[str, str]]:
    """(label, value as shown) of the contract's values, in the fields' order."""
    values = CustomValue.objects.filter(contract=contract).select_related("field")
    ordered = sorted(values, key=lambda v: (v.field.position, v.field.pk))
    return [(value.field.label, value.shown) for value in ordered]


@dataclass(frozen=True)
class CustomCondition:
    """A search condition on one custom field: a word (text), a value (choice) or a range
    (number, date; both ends included)."""

    field_id: int
    kind: str
    text: str = ""
    low: Decimal | dt.date | None = None
    high: Decimal | dt.date | None = None

    def condition(self) -> Q:
        """The condition as a filter on Contract (Q() when it asks for nothing)."""
        from keiyaku.contracts.search_index import custom_search_field, word_matches

        if self.kind == CustomFieldKind.TEXT:
            found = Q()
            for word in self.text.replace("\u3000", " ").split():
                matches = word_matches(word, (custom_search_field(self.field_id),))
                if matches is not None:
                    found &= matches
            return found
        values = CustomValue.objects.filter(field_id=self.field_id)
        if self.kind == CustomFieldKind.CHOICE:
            if not self.text:
                return Q()
            return Q(pk__in=values.filter(text=self.text).values("contract_id"))
        column = "number" if self.kind == CustomFieldKind.NUMBER else "date"
        if self.low is None and self.high is None:
            return Q()
        if self.low is not None:
            values = values.filter(**{f"{column}__gte": self.low})
        if self.high is not None:
            values = values.filter(**{f"{column}__lte": self.high})
        return Q(pk__in=values.values("contract_id"))
