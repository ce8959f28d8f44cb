"""Who may change what (R2, R36). Reads are decided by selectors; these guard writes.

A viewer (閲覧者) changes nothing. Contracts are changed by senders and admins; organisation
settings, staff and departments by admins only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Role
from keiyaku.refusals import NotAllowed

CONTRACT_EDIT_ROLES = frozenset({Role.ADMIN, Role.SENDER})


def _member(staff: Any) -> bool:
    return bool(
        staff is not None
        and staff.is_authenticated
        and staff.is_active
        and staff.organisation_id is not None
    )


def is_org_admin(staff: Any) -> bool:
    return _member(staff) and staff.has_role(Role.ADMIN)


def can_edit_contracts(staff: Any) -> bool:
    return _member(staff) and bool(CONTRACT_EDIT_ROLES & set(staff.roles))


def check_can_edit_contracts(staff: Any) -> None:
    """For view decorators (403): services check with `contracts.permissions`."""
    if not can_edit_contracts(staff):
        raise PermissionDenied


def check_org_admin(staff: Any) -> None:
    if not is_org_admin(staff):
        raise PermissionDenied


def is_operator(user: Any) -> bool:
    """The platform operator: an active superuser (adds organisations and their first admin)."""
    return bool(user is not None and user.is_active and user.is_superuser)


def require_org_admin(actor: Any, organisation: Any) -> None:
    """For services: `actor` administers `organisation` (the same rule as `org_admin_required`,
    and the organisation must be the actor's own). `None` is keiyaku itself (a management
    command, the demo seed) and is allowed.

    Raises:
        NotAllowed: anyone else (code ``forbidden``).
    """
    if actor is None:
        return
    if not is_org_admin(actor) or organisation is None or actor.organisation_id != organisation.pk:
        raise NotAllowed(_("この組織を管理する権限がありません。"))


def contract_editor_required(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """A staff view that changes contracts: login, then the role (403 for a viewer)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        check_can_edit_contracts(request.user)
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def org_admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """An organisation administration screen: login, then the admin role (403 otherwise)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        check_org_admin(request.user)
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def operator_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A platform operator screen (superuser without organisation)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_operator(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)
