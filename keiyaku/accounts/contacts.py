"""Who a counterparty asks about a contract (issue 14, 「問い合わせ先」).

Each organisation and each department sets a contact block (department, person, phone, e-mail,
hours) on its admin screen (`keiyaku.accounts.services.contact_update`). Every counterparty page
and mail shows the block of the contract's department, else the organisation's; where neither
is set, the contract's department and its sender, so a counterparty is never left with
「送信者にお問い合わせください」 and no one to call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from keiyaku.accounts.models import ContactFields
from keiyaku.text_input import forbidden_characters

#: The fields of a block, as keyword arguments of `contact_update` and keys of its audit detail.
CONTACT_KEYS = ("department", "person", "phone", "email", "hours")

# Digits with hyphens between them, as Japanese numbers are written (03-1234-5678, 0120-00-0000);
# an optional leading + for an international number.
_PHONE = re.compile(r"\+?[0-9]+(-[0-9]+)*")
PHONE_MAX_LENGTH = 30


@dataclass(frozen=True)
class Contact:
    """One contact block; empty strings are unset."""

    department: str = ""
    """The department to ask (「契約課 契約係」)."""
    person: str = ""
    """The person in charge."""
    phone: str = ""
    """ASCII digits and hyphens."""
    email: str = ""
    """An address the counterparty may write to."""
    hours: str = ""
    """When the phone is answered (「平日 8:45〜17:30」)."""

    @property
    def is_set(self) -> bool:
        return any(getattr(self, key) for key in CONTACT_KEYS)

    def as_dict(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in CONTACT_KEYS}


def contact_of(owner: ContactFields) -> Contact:
    """The block an organisation or a department has set (possibly empty)."""
    return Contact(**{key: getattr(owner, f"contact_{key}") for key in CONTACT_KEYS})


def contact_for(contract: Any) -> Contact:
    """The block shown to a contract's counterparties: its department's if set, else its
    organisation's, else the department's name (or the organisation's) and the sender.

    `contract` is a `keiyaku.contracts.models.Contract`; its organisation, department and
    created_by are read (select them with it: the party link lookup does, no query here).
    """
    department = contract.department
    if department is not None:
        own = contact_of(department)
        if own.is_set:
            return own
    organisation = contact_of(contract.organisation)
    if organisation.is_set:
        return organisation
    sender = contract.created_by
    return Contact(
        department=department.name if department is not None else contract.organisation.name,
        person=sender.label,
        email=sender.email,
    )


def contact_errors(values: dict[str, str]) -> dict[str, str]:
    """What is wrong with a block as typed, by key (empty when it may be saved): every field
    one line without control characters, the phone ASCII digits and hyphens (at most 30), the
    e-mail an address. Messages are translated; the keys are `CONTACT_KEYS`."""
    errors: dict[str, str] = {}
    for key in CONTACT_KEYS:
        value = values.get(key, "")
        if forbidden_characters(value):
            errors[key] = _("改行や制御文字は使えません。1行で入力してください。")
    phone = values.get("phone", "")
    if (
        "phone" not in errors
        and phone
        and (len(phone) > PHONE_MAX_LENGTH or not _PHONE.fullmatch(phone))
    ):
        errors["phone"] = _("電話番号は半角数字とハイフンで入力してください（例: 03-1234-5678）。")
    email = values.get("email", "")
    if "email" not in errors and email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("メールアドレスの形式が正しくありません。")
    return errors
