"""Writes for organisations and staff."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from keiyaku.accounts.models import Department, Organisation, Role, Staff


@transaction.atomic
def organisation_create(*, name: str, slug: str) -> Organisation:
    return Organisation.objects.create(name=name, slug=slug)


def department_get_or_create(*, organisation: Organisation, name: str) -> Department:
    department, _ = Department.objects.get_or_create(organisation=organisation, name=name)
    return department


@transaction.atomic
def staff_create(
    *,
    organisation: Organisation,
    username: str,
    password: str,
    display_name: str,
    email: str,
    department: Department | None = None,
    roles: Iterable[str] = (Role.SENDER,),
) -> Staff:
    roles = list(roles)
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    staff = Staff(
        organisation=organisation,
        username=username,
        display_name=display_name,
        email=email,
        department=department,
        roles=roles,
    )
    staff.set_password(password)
    staff.save()
    return staff
