"""Boxes staff place on the pages and parties fill (R8).

Staff place boxes on a draft; at sending every box becomes a read-only form field (before any
signature); at the agreement the party's values are checked and stored with the agreement, and
its signature job writes them into the PDF in the same revision as its signature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.ascii_digits import ascii_int
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, BoxKind, Contract, Document, Party
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.selectors import document_page_sizes
from keiyaku.contracts.timefmt import wareki
from keiyaku.fonts import MissingGlyphError
from keiyaku.signing.boxes import BoxOverflow, check_fits
from keiyaku.text_input import require_single_line

MIN_SIZE = 8.0  # points: smaller boxes cannot hold a character
MAX_LABEL = 100
# The most characters a box may be limited to: far more than any box holds (the text must fit).
MAX_LENGTH_LIMIT = 10_000
# A box's attributes, named once: where it sits on its page, and what it asks for.
BOX_GEOMETRY = ("x", "y", "width", "height")
BOX_SETTINGS = ("kind", "label", "required", "max_length")
# What a template keeps of a box (its party is a routing step there, not a party).
BOX_FIELDS = ("page", *BOX_GEOMETRY, *BOX_SETTINGS)
# What staff set on a draft's box.
BOX_EDITABLE = (*BOX_FIELDS, "party")


def _require_draft(contract: Contract) -> None:
    if not contract.is_editable:
        raise ContractError(_("送信済みの案件の入力欄は変更できません。"), code="not_draft")


def _lock_draft(contract_id: Any) -> Contract:
    """Lock the contract row for the rest of the transaction, then check it is still a draft:
    a box edit racing with 「送信」 lands before the send's final check (which notices it) or
    finds the contract sent."""
    contract = Contract.objects.select_for_update().get(pk=contract_id)
    _require_draft(contract)
    return contract


def _current(box: Box) -> Box:
    """The box as stored now (call with its contract locked); refused if it is gone."""
    current = Box.objects.select_related("document").filter(pk=box.pk).first()
    if current is None:
        raise ContractError(_("この入力欄は削除されました。"), code="box_gone")
    return current


def _number(data: Mapping[str, object], key: str) -> float:
    """A finite number: JSON (as Python reads it) also gives NaN and ±Infinity, and a number
    too large for a float (1e309) becomes infinite. None of them compares as out of range (NaN
    compares false with everything), so they are refused here, before any check or the
    database sees them."""
    raw = data.get(key)
    try:
        if isinstance(raw, bool):
            raise TypeError
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value):
        raise ContractError(
            _("%(field)s は数値で指定してください。") % {"field": key}, code=key, field=key
        )
    return value


def _integer(data: Mapping[str, object], key: str) -> int | None:
    """A whole number (an int, a float without fraction, or decimal digits), else None."""
    raw = data.get(key)
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if math.isfinite(raw) and raw.is_integer() else None
    if isinstance(raw, str) and len(raw.strip()) <= 18:
        return ascii_int(raw.strip())
    return None


def _apply(box: Box, data: Mapping[str, object]) -> None:
    """Validate and set the given fields; the box's document and contract are fixed."""
    document = box.document
    if "page" in data:
        page = _integer(data, "page")
        if page is None:
            raise ContractError(_("ページ番号が不正です。"), code="page", field="page")
        box.page = page
    if not 1 <= box.page <= document.page_count:
        raise ContractError(_("ページ番号が不正です。"), code="page", field="page")
    for key in BOX_GEOMETRY:
        if key in data:
            setattr(box, key, _number(data, key))
    if box.width < MIN_SIZE or box.height < MIN_SIZE:
        raise ContractError(
            _("入力欄が小さすぎます。"),
            code="size",
            field="width" if box.width < MIN_SIZE else "height",
        )
    page_width, page_height = document_page_sizes(document)[box.page - 1]
    if box.x < 0 or box.x + box.width > page_width + 0.5:
        raise ContractError(_("入力欄がページの外にはみ出しています。"), code="position", field="x")
    if box.y < 0 or box.y + box.height > page_height + 0.5:
        raise ContractError(_("入力欄がページの外にはみ出しています。"), code="position", field="y")
    if "kind" in data:
        if data["kind"] not in BoxKind.values:
            raise ContractError(_("入力欄の種類が不正です。"), code="kind", field="kind")
        box.kind = str(data["kind"])
    if "label" in data:
        label = str(data["label"] or "").strip()
        if len(label) > MAX_LABEL:
            raise ContractError(_("項目名が長すぎます。"), code="label", field="label")
        require_single_line(label=("項目名", label))
        box.label = label
    if "party" in data:
        party_id = ascii_int(str(data["party"]))
        party = (
            Party.objects.filter(pk=party_id, contract_id=document.contract_id).first()
            if party_id is not None
            else None
        )
        if party is None:
            raise ContractError(
                _("入力する署名者を選択してください。"), code="party", field="party"
            )
        if party.is_approver:
            raise ContractError(
                _("承認者は書類に署名しないため、入力欄を割り当てられません。"),
                code="party",
                field="party",
            )
        box.party = party
    if "required" in data:
        box.required = bool(data["required"])
    if "max_length" in data:
        raw = data["max_length"]
        if raw in (None, ""):
            box.max_length = None
        else:
            max_length = _integer(data, "max_length")
            if max_length is None:
                raise ContractError(
                    _("最大文字数は数値で指定してください。"), code="max_length", field="max_length"
                )
            if max_length < 1:
                raise ContractError(
                    _("最大文字数は1以上にしてください。"), code="max_length", field="max_length"
                )
            if max_length > MAX_LENGTH_LIMIT:
                raise ContractError(
                    _("最大文字数は%(limit)d以下にしてください。") % {"limit": MAX_LENGTH_LIMIT},
                    code="max_length",
                    field="max_length",
                )
            box.max_length = max_length


def box_create(
    *, document: Document, actor: Staff, data: Mapping[str, object], meta: RequestMeta = SYSTEM
) -> Box:
    require_contract_change(actor, document.contract)
    missing = [key for key in ("page", *BOX_GEOMETRY, "party") if key not in data]
    if missing:
        raise ContractError(
            _("%(fields)s を指定してください。") % {"fields": ", ".join(missing)},
            code=missing[0],
            field=missing[0],
        )
    with transaction.atomic():
        contract = _lock_draft(document.contract_id)
        # Read again under the lock: the document may have been removed meanwhile.
        current = Document.objects.filter(pk=document.pk, contract=contract).first()
        if current is None:
            raise ContractError(_("この書類は削除されました。"), code="document", field="document")
        box = Box(document=current)
        _apply(box, data)
        box.save()
        audit_record(
            event="box.add",
            organisation=contract.organisation,
            actor=actor,
            subject=contract.audit_subject,
            detail={"box": box.pk, "document": document.pk, "page": box.page, "kind": box.kind},
            meta=meta,
        )
    return box


def box_update(
    *, box: Box, actor: Staff, data: Mapping[str, object], meta: RequestMeta = SYSTEM
) -> Box:
    require_contract_change(actor, box.document.contract)
    with transaction.atomic():
        contract = _lock_draft(box.document.contract_id)
        # The row as it is now, under the lock: a change made meanwhile is kept, and a box
        # deleted meanwhile (or with its party) is a refusal, not a lost update.
        box = _current(box)
        _apply(box, {key: value for key, value in data.items() if key in BOX_EDITABLE})
        box.save(force_update=True)
        audit_record(
            event="box.update",
            organisation=contract.organisation,
            actor=actor,
            subject=contract.audit_subject,
            detail={"box": box.pk, "fields": sorted(k for k in data if k in BOX_EDITABLE)},
            meta=meta,
        )
    return box


def box_delete(*, box: Box, actor: Staff, meta: RequestMeta = SYSTEM) -> None:
    require_contract_change(actor, box.document.contract)
    with transaction.atomic():
        contract = _lock_draft(box.document.contract_id)
        box = _current(box)
        audit_record(
            event="box.delete",
            organisation=contract.organisation,
            actor=actor,
            subject=contract.audit_subject,
            detail={"box": box.pk},
            meta=meta,
        )
        box.delete()


def box_values_clean(party: Party, raw: Mapping[str, str]) -> dict[int, str]:
    """The party's values, checked: only its own boxes, required ones filled, dates real dates,
    lengths within limits, text that fits its box in the embedded font. Raises ContractError
    naming the box.
    """
    boxes = {box.pk: box for box in party.boxes.select_related("document")}
    given = {}
    for key, value in raw.items():
        if not key.startswith("box_"):
            continue
        box_id = ascii_int(key[4:])
        if box_id is None or box_id not in boxes:
            raise ContractError(_("入力できない欄への入力が含まれています。"), code="foreign_box")
        given[box_id] = value
    values = {}
    for box_id, box in boxes.items():
        name = box.label or _("入力欄")
        value = str(given.get(box_id, "")).replace("\r\n", "\n").strip()
        if box.kind == BoxKind.CHECKBOX:
            value = "1" if value.lower() in ("1", "on", "true", "yes") else ""
        if box.required and not value:
            raise ContractError(
                _("「%(name)s」を入力してください。") % {"name": name}, code="required"
            )
        if box.kind == BoxKind.DATE and value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ContractError(
                    _("「%(name)s」の日付が正しくありません。") % {"name": name}, code="date"
                ) from None
        if box.max_length and len(value) > box.max_length:
            raise ContractError(
                _("「%(name)s」は%(max_length)d文字以内で入力してください。")
                % {"name": name, "max_length": box.max_length},
                code="max_length",
            )
        if box.kind != BoxKind.CHECKBOX:
            try:
                check_fits(
                    name=name,
                    kind=box.kind,
                    value=pdf_text(box.kind, value),
                    width=box.width,
                    height=box.height,
                )
            except BoxOverflow:
                raise ContractError(
                    _("「%(name)s」の内容が長すぎて欄に収まりません。短くしてください。")
                    % {"name": name},
                    code="overflow",
                ) from None
            except MissingGlyphError as exc:
                chars = "".join(sorted(exc.characters))
                raise ContractError(
                    _("「%(name)s」に使用できない文字が含まれています: %(chars)s")
                    % {"name": name, "chars": chars},
                    code="glyph",
                ) from None
            except ValueError:
                raise ContractError(
                    _("「%(name)s」は1行で入力してください。") % {"name": name}, code="newline"
                ) from None
        values[box_id] = value
    return values


def pdf_text(kind: str, value: str) -> str:
    """What is written into the PDF: dates in the Japanese era, checkboxes as 1/0."""
    if kind == BoxKind.DATE and value:
        return wareki(date.fromisoformat(value))
    if kind == BoxKind.CHECKBOX:
        return "1" if value else "0"
    return value


def box_fill_for(party: Party, document: Document) -> dict[str, str]:
    """The values a party's signature revision writes into one document."""
    return {
        box.field_name: pdf_text(box.kind, box.value)
        for box in party.boxes.filter(document=document)
    }
