"""Reads that depend on who asks. Access control for the address book lives here."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from keiyaku.accounts.models import Role, Staff
from keiyaku.addressbook.models import Company, Contact
from keiyaku.text_input import one_line


def companies_visible_to(staff: Staff) -> QuerySet[Company]:
    """The organisation's shared companies, plus those private to the staff member's department.

    Administrators see every company of their organisation; nobody sees another organisation's.
    """
    if not staff.is_authenticated or staff.organisation_id is None:
        return Company.objects.none()
    companies = Company.objects.filter(organisation_id=staff.organisation_id)
    if staff.has_role(Role.ADMIN):
        return companies
    return companies.filter(Q(department__isnull=True) | Q(department_id=staff.department_id))


def contacts_visible_to(staff: Staff) -> QuerySet[Contact]:
    return Contact.objects.filter(company__in=companies_visible_to(staff)).select_related("company")


def company_for(staff: Staff, company_id: int | str) -> Company:
    """The company, or 404 for anyone who may not see it (never 403: no existence leak)."""
    try:
        return companies_visible_to(staff).select_related("department").get(pk=company_id)
    except (Company.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def contact_for(staff: Staff, contact_id: int | str) -> Contact:
    try:
        return contacts_visible_to(staff).get(pk=contact_id)
    except (Contact.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def companies_search(staff: Staff, query: str = "") -> QuerySet[Company]:
    """Visible companies whose name or kana, or one of whose contacts, matches every word."""
    companies = companies_visible_to(staff)
    # A control character matches nothing; a NUL would stop PostgreSQL with a server error.
    for word in one_line(query).split():
        companies = companies.filter(
            Q(name__icontains=word)
            | Q(kana__icontains=word)
            | Q(note__icontains=word)
            | Q(contacts__name__icontains=word)
            | Q(contacts__email__icontains=word)
            | Q(contacts__title__icontains=word)
        )
    return (
        companies.distinct()
        .select_related("department")
        .prefetch_related(Prefetch("contacts", queryset=Contact.objects.order_by("name", "id")))
    )
