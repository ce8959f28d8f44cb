"""A signer's e-mail address: the one check every way of naming an external signer uses
(a party added to a draft, one taken from a template's slot, a forwardee, a corrected
address), so no invitation is queued for an address that cannot receive it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from keiyaku.contracts.errors import ContractError


def require_signer_email(email: str, *, field: str = "email") -> str:
    """``email`` trimmed, when it is an address (RFC 5322 as Django's ``validate_email``
    reads it, up to 254 characters: RFC 5321, 4.5.3.1.3).

    Args:
        email: the address as typed or sent.
        field: the input's name, carried by the refusal.

    Raises:
        ContractError: ``email`` (「正しいメールアドレスを入力してください。」) when empty or
            not an address.
    """
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ContractError(
            _("正しいメールアドレスを入力してください。"), code="email", field=field
        ) from None
    return email
