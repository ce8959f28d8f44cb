"""The address book through the API: companies and their contacts (R40).

Reads go through `addressbook.selectors` (the organisation's shared companies and those of
the token's member's department; an admin sees all), writes through `addressbook.services`
(senders and admins keep it). Another organisation's company or contact is a 404.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router
from ninja.responses import Status

from keiyaku.addressbook import services
from keiyaku.addressbook.errors import AddressBookError
from keiyaku.addressbook.models import Company, Contact
from keiyaku.addressbook.selectors import companies_search, company_for, contact_for
from keiyaku.api.common import ERRORS, actor, department_in, page_of
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import (
    CompanyIn,
    CompanyOut,
    CompanyPage,
    CompanyPatch,
    ContactIn,
    ContactOut,
    ContactPatch,
)

router = Router(tags=["address book"])


def contact_out(contact: Contact) -> dict[str, object]:
    return {
        "id": contact.pk,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "title": contact.title,
    }


def company_out(company: Company) -> dict[str, object]:
    """A company as `CompanyOut`, with its contacts by name."""
    department = company.department
    return {
        "id": company.pk,
        "name": company.name,
        "kana": company.kana,
        "note": company.note,
        "department": {"id": department.pk, "name": department.name} if department else None,
        "contacts": [contact_out(c) for c in company.contacts.order_by("name", "id")],
    }


@router.get("/companies", response={200: CompanyPage, **ERRORS}, summary="List and search")
def company_list(request: HttpRequest, q: str = "", after: str | None = None, limit: int = 50):
    """The companies the token's member sees, with their contacts; ``q`` finds those whose
    name, kana, note or a contact's name, e-mail or title holds every word."""
    rows, following = page_of(companies_search(actor(request), q), after=after, limit=limit)
    return {"items": [company_out(c) for c in rows], "next_cursor": following}


@router.get(
    "/companies/{company_id}", response={200: CompanyOut, **ERRORS}, summary="Get a company"
)
def company_get(request: HttpRequest, company_id: int):
    return company_out(company_for(actor(request), company_id))


@router.post("/companies", response={201: CompanyOut, **ERRORS}, summary="Add a company")
def company_create(request: HttpRequest, payload: CompanyIn):
    """Shared with the organisation, or private to ``department_id`` (the member's own; an
    admin's any)."""
    department = None
    if payload.department_id is not None:
        department = department_in(request, payload.department_id)
        if department is None:
            raise AddressBookError(
                _("所属が見つかりません。"), code="department", field="department_id"
            )
    made = services.company_create(
        actor=actor(request),
        name=payload.name,
        kana=payload.kana,
        note=payload.note,
        department=department,
        meta=api_meta(request),
    )
    return Status(201, company_out(made))


@router.patch(
    "/companies/{company_id}", response={200: CompanyOut, **ERRORS}, summary="Change a company"
)
def company_update(request: HttpRequest, company_id: int, payload: CompanyPatch):
    """Absent fields keep their values."""
    company = company_for(actor(request), company_id)
    changed = services.company_update(
        company=company,
        actor=actor(request),
        name=company.name if payload.name is None else payload.name,
        kana=company.kana if payload.kana is None else payload.kana,
        note=company.note if payload.note is None else payload.note,
        meta=api_meta(request),
    )
    return company_out(changed)


@router.delete(
    "/companies/{company_id}",
    response={204: None, **ERRORS},
    summary="Delete a company and its contacts",
)
def company_delete(request: HttpRequest, company_id: int):
    """Contracts keep their own copy of a party's details."""
    company = company_for(actor(request), company_id)
    services.company_delete(company=company, actor=actor(request), meta=api_meta(request))
    return Status(204, None)


@router.post(
    "/companies/{company_id}/contacts",
    response={201: ContactOut, **ERRORS},
    summary="Add a contact to a company",
)
def contact_create(request: HttpRequest, company_id: int, payload: ContactIn):
    company = company_for(actor(request), company_id)
    made = services.contact_create(
        company=company,
        actor=actor(request),
        name=payload.name,
        email=payload.email,
        phone=payload.phone,
        title=payload.title,
        meta=api_meta(request),
    )
    return Status(201, contact_out(made))


@router.patch(
    "/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, summary="Change a contact"
)
def contact_update(request: HttpRequest, contact_id: int, payload: ContactPatch):
    """Absent fields keep their values."""
    contact = contact_for(actor(request), contact_id)
    changed = services.contact_update(
        contact=contact,
        actor=actor(request),
        name=contact.name if payload.name is None else payload.name,
        email=contact.email if payload.email is None else payload.email,
        phone=contact.phone if payload.phone is None else payload.phone,
        title=contact.title if payload.title is None else payload.title,
        meta=api_meta(request),
    )
    return contact_out(changed)


@router.delete("/contacts/{contact_id}", response={204: None, **ERRORS}, summary="Delete a contact")
def contact_delete(request: HttpRequest, contact_id: int):
    contact = contact_for(actor(request), contact_id)
    services.contact_delete(contact=contact, actor=actor(request), meta=api_meta(request))
    return Status(204, None)
