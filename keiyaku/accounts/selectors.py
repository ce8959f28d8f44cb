"""Reads of organisations, departments and staff, always scoped to one organisation (R1)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Q, QuerySet

from keiyaku.accounts.models import Department, Organisation, Staff
from keiyaku.text_input import one_line


def departments_of(organisation: Organisation) -> QuerySet[Department]:
    return Department.objects.filter(organisation=organisation).select_related("parent")


def department_tree(organisation: Organisation) -> list[tuple[Department, int]]:
    """Every department with its depth, parents before their children (部 → 課)."""
    children: dict[int | None, list[Department]] = defaultdict(list)
    for department in departments_of(organisation).order_by("name"):
        children[department.parent_id].append(department)
    rows: list[tuple[Department, int]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for department in children.get(parent_id, []):
            rows.append((department, depth))
            walk(department.pk, depth + 1)

    walk(None, 0)
    return rows


def department_with_descendants(department_id: int) -> set[int]:
    """The department and every department below it."""
    organisation_id = Department.objects.filter(pk=department_id).values_list(
        "organisation_id", flat=True
    )
    parents = dict(
        Department.objects.filter(organisation_id__in=organisation_id).values_list(
            "id", "parent_id"
        )
    )
    children: dict[int | None, list[int]] = defaultdict(list)
    for child, parent in parents.items():
        children[parent].append(child)
    found, todo = {department_id}, [department_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def staff_of(
    organisation: Organisation, *, query: str = "", department_id: int | None = None
) -> QuerySet[Staff]:
    rows = Staff.objects.filter(organisation=organisation).select_related("department")
    # Typed into a search box and passed as is: a control character matches nothing, and a NUL
    # would stop PostgreSQL (its text cannot hold one) with a server error.
    query = one_line(query)
    if query:
        rows = rows.filter(
            Q(display_name__icontains=query)
            | Q(kana__icontains=query)
            | Q(username__icontains=query)
            | Q(email__icontains=query)
        )
    if department_id:
        rows = rows.filter(department_id=department_id)
    return rows.order_by("department__name", "kana", "display_name", "username")
