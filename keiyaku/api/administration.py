"""The organisation's administration through the API (admin-scope tokens only, R2, R40):
staff (list, register, deactivate) and departments (list, add).

The gate lets only an admin-scope token reach these paths (`gate.ADMIN_PREFIXES`); each
endpoint also asks `require_org_admin` of the token's member (a member who is no longer an
admin is refused, 403), and writes go through `accounts.services`, which check it again.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router
from ninja.responses import Status

from keiyaku.accounts import services
from keiyaku.accounts.models import Department, Organisation, Staff
from keiyaku.accounts.permissions import require_org_admin
from keiyaku.accounts.selectors import departments_of, staff_of
from keiyaku.api.common import ERRORS, actor, page_of
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import (
    DepartmentIn,
    DepartmentOut,
    DepartmentPage,
    StaffIn,
    StaffOut,
    StaffPage,
)

staff_router = Router(tags=["staff and departments (admin)"])
department_router = Router(tags=["staff and departments (admin)"])


def _organisation(request: HttpRequest) -> Organisation:
    """The token's organisation, once its member is found to administer it (NotAllowed)."""
    member = actor(request)
    require_org_admin(member, member.organisation)
    assert member.organisation is not None
    return member.organisation


def staff_out(staff: Staff) -> dict[str, object]:
    department = staff.department
    return {
        "id": staff.pk,
        "login_id": staff.username,
        "display_name": staff.display_name,
        "kana": staff.kana,
        "email": staff.email,
        "department": {"id": department.pk, "name": department.name} if department else None,
        "roles": list(staff.roles),
        "is_active": staff.is_active,
    }


def _department(organisation: Organisation, department_id: int | None, field: str):
    if department_id is None:
        return None
    found = Department.objects.filter(organisation=organisation, pk=department_id).first()
    if found is None:
        raise services.AccountsError(
            _("所属が見つかりません。"), code="department_unknown", field=field
        )
    return found


@staff_router.get("", response={200: StaffPage, **ERRORS}, summary="List staff")
def staff_list(
    request: HttpRequest,
    q: str = "",
    department_id: int | None = None,
    after: str | None = None,
    limit: int = 50,
):
    """The organisation's staff, active or not; ``q`` searches name, kana, login ID and
    e-mail, ``department_id`` one department."""
    organisation = _organisation(request)
    rows, following = page_of(
        staff_of(organisation, query=q, department_id=department_id), after=after, limit=limit
    )
    return {"items": [staff_out(s) for s in rows], "next_cursor": following}


@staff_router.post("", response={201: StaffOut, **ERRORS}, summary="Register a staff member")
def staff_create(request: HttpRequest, payload: StaffIn):
    """Without a password: keiyaku e-mails the member a link to choose one."""
    organisation = _organisation(request)
    made = services.staff_invite(
        organisation=organisation,
        actor=actor(request),
        username=payload.login_id,
        display_name=payload.display_name,
        kana=payload.kana,
        email=payload.email,
        department=_department(organisation, payload.department_id, "department_id"),
        roles=[role.value for role in payload.roles],
        meta=api_meta(request),
    )
    return Status(201, staff_out(made))


@staff_router.post(
    "/{staff_id}/deactivate",
    response={200: StaffOut, **ERRORS},
    summary="Deactivate a staff member (they can no longer sign in; never deleted)",
)
def staff_deactivate(request: HttpRequest, staff_id: int):
    """The member's API tokens stop working too. 409 ``last_admin`` for the organisation's
    last active admin."""
    organisation = _organisation(request)
    staff = get_object_or_404(Staff, pk=staff_id, organisation=organisation)
    changed = services.staff_update(
        staff=staff,
        actor=actor(request),
        username=staff.username,
        display_name=staff.display_name,
        kana=staff.kana,
        email=staff.email,
        department=staff.department,
        roles=list(staff.roles),
        is_active=False,
        meta=api_meta(request),
    )
    return staff_out(changed)


@department_router.get("", response={200: DepartmentPage, **ERRORS}, summary="List departments")
def department_list(request: HttpRequest, after: str | None = None, limit: int = 100):
    rows, following = page_of(departments_of(_organisation(request)), after=after, limit=limit)
    return {
        "items": [{"id": d.pk, "name": d.name, "parent_id": d.parent_id} for d in rows],
        "next_cursor": following,
    }


@department_router.post("", response={201: DepartmentOut, **ERRORS}, summary="Add a department")
def department_create(request: HttpRequest, payload: DepartmentIn):
    organisation = _organisation(request)
    made = services.department_create(
        organisation=organisation,
        actor=actor(request),
        name=payload.name,
        parent=_department(organisation, payload.parent_id, "parent_id"),
        meta=api_meta(request),
    )
    return Status(201, {"id": made.pk, "name": made.name, "parent_id": made.parent_id})
