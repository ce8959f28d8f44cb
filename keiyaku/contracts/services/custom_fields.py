"""An organisation's custom fields (issue 15): admins add, change and retire them.

Only the organisation's admins change its fields. A field's kind cannot change once contracts
hold values for it (a number would have to become a date); a retired field keeps its values,
is shown on the contracts that have one, and is no longer asked for or offered in search.
"""

from __future__ import annotations

import unicodedata

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Role, Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import CustomField, CustomFieldKind, CustomValue
from keiyaku.refusals import NotAllowed
from keiyaku.text_input import require_single_line

__all__ = ["MAX_CUSTOM_FIELDS", "custom_field_retire", "custom_field_save"]

MAX_CUSTOM_FIELDS = 30
"""Active custom fields per organisation."""


def _require_admin(actor: Staff) -> int:
    """The admin's organisation id; NotAllowed for anyone else."""
    if actor.organisation_id is None or not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("この操作は管理者だけが行えます。"))
    return actor.organisation_id


def _choices(kind: str, choices: list[str]) -> list[str]:
    cleaned = [unicodedata.normalize("NFC", c).strip() for c in choices]
    cleaned = [c for c in dict.fromkeys(cleaned) if c]
    if kind != CustomFieldKind.CHOICE:
        return []
    if not cleaned:
        raise ContractError(_("選択肢を1つ以上入力してください。"), field="choices")
    if len(cleaned) > 50 or any(len(c) > 100 for c in cleaned):
        raise ContractError(
            _("選択肢は50個まで、それぞれ100文字以内で入力してください。"), field="choices"
        )
    require_single_line(**{f"choice{i}": (_("選択肢"), c) for i, c in enumerate(cleaned)})
    return cleaned


def _names_a_standard_column(label: str) -> bool:
    """Whether ``label`` is a heading the contract import's CSV reads as one of its own columns
    (its custom fields are read by their names, R30): such a column would be ambiguous."""
    from keiyaku.contracts.import_csv import COLUMNS

    wanted = unicodedata.normalize("NFKC", label).strip().casefold()
    return any(
        unicodedata.normalize("NFKC", heading).strip().casefold() == wanted
        for headings in COLUMNS.values()
        for heading in headings
    )


def custom_field_save(
    *,
    actor: Staff,
    field_id: int | None,
    label: str,
    kind: str,
    choices: list[str],
    required: bool,
    meta: RequestMeta = SYSTEM,
) -> CustomField:
    """Add a field (``field_id`` None) or change one of the actor's organisation's.

    Args:
        label: up to 50 characters, unique in the organisation.
        kind: a CustomFieldKind value.
        choices: the choices of a choice field (one line each; ignored for other kinds).
        required: whether a new contract must have a value.

    Raises NotAllowed (not an admin), ContractError (a bad label or choices, a label in use or
    one of the import CSV's own column names,
    a kind changed while values exist, over MAX_CUSTOM_FIELDS); another organisation's field
    is "not found". Audited as ``custom_field.save``.
    """
    organisation_id = _require_admin(actor)
    label = label.strip()
    require_single_line(label=(_("項目名"), label))
    if not label or len(label) > 50:
        raise ContractError(_("項目名を50文字以内で入力してください。"), field="label")
    if _names_a_standard_column(label):
        raise ContractError(
            _("「%(label)s」は取込CSVの決まった列名と同じです。別の名前にしてください。")
            % {"label": label},
            field="label",
            code="label_reserved",
        )
    if kind not in CustomFieldKind.values:
        raise ContractError(_("種類を選んでください。"), field="kind")
    kept = _choices(kind, choices)
    with transaction.atomic():
        fields = CustomField.objects.select_for_update().filter(organisation_id=organisation_id)
        if field_id is None:
            if fields.filter(active=True).count() >= MAX_CUSTOM_FIELDS:
                raise ContractError(
                    _("項目は%(count)s個まで追加できます。") % {"count": MAX_CUSTOM_FIELDS}
                )
            position = (fields.aggregate(top=Max("position"))["top"] or 0) + 1
            field = CustomField(organisation_id=organisation_id, position=position)
        else:
            found = fields.filter(pk=field_id).first()
            if found is None:
                raise ContractError(_("この項目は見つかりません。"), code="not_found")
            field = found
            if field.kind != kind and CustomValue.objects.filter(field=field).exists():
                raise ContractError(
                    _("値が入力された項目の種類は変えられません。新しい項目を追加してください。"),
                    field="kind",
                )
        field.label, field.kind, field.choices, field.required = label, kind, kept, required
        try:
            with transaction.atomic():
                field.save()
        except IntegrityError:
            raise ContractError(
                _("同じ名前の項目がすでにあります。"), field="label", code="label_taken"
            ) from None
        audit_record(
            event="custom_field.save",
            organisation=actor.organisation,
            actor=actor,
            subject=f"custom_field:{field.pk}",
            detail={"label": label, "kind": kind, "choices": kept, "required": required},
            meta=meta,
        )
    return field


def custom_field_retire(*, actor: Staff, field_id: int, meta: RequestMeta = SYSTEM) -> None:
    """Retire one of the organisation's fields: no longer asked for or searchable; values kept.
    Raises NotAllowed or ContractError ("not found"). Audited as ``custom_field.retire``."""
    organisation_id = _require_admin(actor)
    with transaction.atomic():
        field = (
            CustomField.objects.select_for_update()
            .filter(pk=field_id, organisation_id=organisation_id, active=True)
            .first()
        )
        if field is None:
            raise ContractError(_("この項目は見つかりません。"), code="not_found")
        field.active = False
        field.save(update_fields=["active"])
        audit_record(
            event="custom_field.retire",
            organisation=actor.organisation,
            actor=actor,
            subject=f"custom_field:{field.pk}",
            detail={"label": field.label},
            meta=meta,
        )
