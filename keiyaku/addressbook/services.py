"""Writes to the address book. Each runs in one transaction and writes its audit event.

Invariants: a company belongs to the actor's organisation and is either shared (no department)
or private to one department; only staff who may change contracts (senders, admins) and can see
a company (see selectors) change it or its contacts; a company's name is unique in its scope,
a contact's e-mail unique in its company.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Department, Role, Staff
from keiyaku.accounts.permissions import can_edit_contracts
from keiyaku.addressbook import csvfile
from keiyaku.addressbook.errors import AddressBookError
from keiyaku.addressbook.models import Company, Contact
from keiyaku.addressbook.selectors import companies_visible_to, contacts_visible_to
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.text_input import require_single_line, require_text


def _audit(
    event: str, *, actor: Staff, company: Company, detail: dict[str, Any], meta: RequestMeta
) -> None:
    audit_record(
        event=event,
        organisation=company.organisation,
        actor=actor,
        subject=f"addressbook.company:{company.pk}",
        detail=detail,
        meta=meta,
    )


def _require_editor(actor: Staff) -> None:
    # The address book serves contract work: those who change contracts keep it (R2).
    if not can_edit_contracts(actor):
        raise AddressBookError(_("アドレス帳を変更する権限がありません。"), code="forbidden")


def _require_visible(actor: Staff, company: Company) -> None:
    _require_editor(actor)
    if not companies_visible_to(actor).filter(pk=company.pk).exists():
        raise AddressBookError(_("この会社を編集する権限がありません。"), code="forbidden")


def _require_department(actor: Staff, department: Department | None) -> None:
    _require_editor(actor)
    if actor.organisation_id is None:
        raise AddressBookError(_("組織に所属していない職員は登録できません。"), code="forbidden")
    if department is None:
        return
    if department.organisation_id != actor.organisation_id or (
        department.pk != actor.department_id and not actor.has_role(Role.ADMIN)
    ):
        raise AddressBookError(
            _("自分の所属以外の部署専用の会社は登録できません。"), code="department"
        )


def _required(label: str, value: str, max_length: int) -> str:
    """`label` is already translated."""
    value = value.strip()
    if not value:
        raise AddressBookError(
            _("%(label)sを入力してください。") % {"label": label}, code="required"
        )
    if len(value) > max_length:
        raise AddressBookError(
            _("%(label)sは%(max_length)d文字までです。")
            % {"label": label, "max_length": max_length},
            code="too_long",
        )
    return value


def _clean_email(email: str) -> str:
    email = _required(_("メールアドレス"), email, 254)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise AddressBookError(_("メールアドレスの形式が正しくありません。"), code="email") from exc
    return email


def _check_company_text(name: str, kana: str, note: str) -> None:
    require_single_line(name=("会社名", name), kana=("会社名カナ", kana))
    require_text(note=("備考", note))


def _check_contact_text(name: str, email: str, phone: str, title: str) -> None:
    require_single_line(
        name=("氏名", name),
        email=("メールアドレス", email),
        phone=("電話番号", phone),
        title=("部署・役職", title),
    )


def _company_scope(*, organisation_id: int, department: Department | None):
    return Company.objects.filter(organisation_id=organisation_id, department=department)


def _require_unique_company(company: Company) -> None:
    clash = _company_scope(
        organisation_id=company.organisation_id, department=company.department
    ).filter(name=company.name)
    if company.pk:
        clash = clash.exclude(pk=company.pk)
    if clash.exists():
        raise AddressBookError(
            _("会社「%(name)s」は既に登録されています。") % {"name": company.name},
            code="duplicate_company",
        )


def _require_unique_contact(contact: Contact) -> None:
    clash = Contact.objects.filter(company_id=contact.company_id, email__iexact=contact.email)
    if contact.pk:
        clash = clash.exclude(pk=contact.pk)
    if clash.exists():
        raise AddressBookError(
            _("%(email)s はこの会社に既に登録されています。") % {"email": contact.email},
            code="duplicate_contact",
        )


@transaction.atomic
def company_create(
    *,
    actor: Staff,
    name: str,
    kana: str = "",
    note: str = "",
    department: Department | None = None,
    meta: RequestMeta = SYSTEM,
) -> Company:
    """A company in the actor's organisation; `department` makes it private to that department."""
    _require_department(actor, department)
    assert actor.organisation_id is not None
    _check_company_text(name, kana, note)
    company = Company(
        organisation_id=actor.organisation_id,
        department=department,
        name=_required(_("会社名"), name, 200),
        kana=kana.strip()[:200],
        note=note.strip(),
    )
    _require_unique_company(company)
    company.save()
    _audit(
        "addressbook.company.add",
        actor=actor,
        company=company,
        detail={"name": company.name, "department": department.name if department else None},
        meta=meta,
    )
    return company


@transaction.atomic
def company_update(
    *,
    company: Company,
    actor: Staff,
    name: str,
    kana: str = "",
    note: str = "",
    meta: RequestMeta = SYSTEM,
) -> Company:
    _require_visible(actor, company)
    _check_company_text(name, kana, note)
    before = company.name
    company.name = _required(_("会社名"), name, 200)
    company.kana = kana.strip()[:200]
    company.note = note.strip()
    _require_unique_company(company)
    company.save()
    _audit(
        "addressbook.company.update",
        actor=actor,
        company=company,
        detail={"name": company.name, "before": before},
        meta=meta,
    )
    return company


@transaction.atomic
def company_delete(*, company: Company, actor: Staff, meta: RequestMeta = SYSTEM) -> None:
    """Delete a company and its contacts. Contracts keep their own copy of a party's details."""
    _require_visible(actor, company)
    detail = {"name": company.name, "contacts": company.contacts.count()}
    _audit("addressbook.company.delete", actor=actor, company=company, detail=detail, meta=meta)
    company.delete()


@transaction.atomic
def contact_create(
    *,
    company: Company,
    actor: Staff,
    name: str,
    email: str,
    phone: str = "",
    title: str = "",
    meta: RequestMeta = SYSTEM,
) -> Contact:
    _require_visible(actor, company)
    _check_contact_text(name, email, phone, title)
    contact = Contact(
        company=company,
        name=_required(_("氏名"), name, 200),
        email=_clean_email(email),
        phone=phone.strip()[:50],
        title=title.strip()[:200],
    )
    _require_unique_contact(contact)
    contact.save()
    _audit(
        "addressbook.contact.add",
        actor=actor,
        company=company,
        detail={"contact": contact.pk, "name": contact.name, "email": contact.email},
        meta=meta,
    )
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    actor: Staff,
    name: str,
    email: str,
    phone: str = "",
    title: str = "",
    meta: RequestMeta = SYSTEM,
) -> Contact:
    _require_visible(actor, contact.company)
    _check_contact_text(name, email, phone, title)
    before = {"name": contact.name, "email": contact.email}
    contact.name = _required(_("氏名"), name, 200)
    contact.email = _clean_email(email)
    contact.phone = phone.strip()[:50]
    contact.title = title.strip()[:200]
    _require_unique_contact(contact)
    contact.save()
    _audit(
        "addressbook.contact.update",
        actor=actor,
        company=contact.company,
        detail={
            "contact": contact.pk,
            "name": contact.name,
            "email": contact.email,
            "before": before,
        },
        meta=meta,
    )
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, actor: Staff, meta: RequestMeta = SYSTEM) -> None:
    _require_visible(actor, contact.company)
    _audit(
        "addressbook.contact.delete",
        actor=actor,
        company=contact.company,
        detail={"contact": contact.pk, "name": contact.name, "email": contact.email},
        meta=meta,
    )
    contact.delete()


# --- CSV import ----------------------------------------------------------------------------


def import_check(
    *, actor: Staff, text: str, department: Department | None = None
) -> list[csvfile.CsvRow]:
    """The rows of a CSV file with the reasons each cannot be imported into the given scope.

    Raises AddressBookError (code ``csv``, field ``file``) when the file as a whole cannot be
    read.
    """
    _require_department(actor, department)
    try:
        rows = csvfile.parse(text)
    except csvfile.CsvError as exc:
        raise AddressBookError(exc.message, code="csv", field="file") from exc
    existing = Contact.objects.filter(
        company__organisation=actor.organisation, company__department=department
    ).values_list("company__name", "email")
    return csvfile.check(
        rows, existing=((company.casefold(), email.casefold()) for company, email in existing)
    )


def import_preview(
    *, actor: Staff, data: bytes, department: Department | None = None
) -> tuple[str, list[csvfile.CsvRow]]:
    """An uploaded CSV file: its text (UTF-8 or Shift_JIS) and its rows, checked as by
    `import_check`.

    Raises AddressBookError (code ``csv``, field ``file``) when the file cannot be read.
    """
    try:
        text = csvfile.decode(data)
    except csvfile.CsvError as exc:
        raise AddressBookError(exc.message, code="csv", field="file") from exc
    return text, import_check(actor=actor, text=text, department=department)


@dataclass(frozen=True)
class ImportResult:
    companies: int
    contacts: int


@transaction.atomic
def contacts_import(
    *,
    actor: Staff,
    text: str,
    department: Department | None = None,
    meta: RequestMeta = SYSTEM,
) -> ImportResult:
    """Import every row of a CSV file, or nothing: one bad row refuses the whole file.

    Rows join the company of the same name in the scope (shared, or `department`'s), which is
    created when missing.
    """
    _require_department(actor, department)
    assert actor.organisation_id is not None
    rows = import_check(actor=actor, text=text, department=department)
    bad = [row for row in rows if row.errors]
    if bad:
        raise AddressBookError(
            _(
                "取り込めない行が%(count)d行あります（%(line)d行目: %(errors)s）。"
                "ファイルを修正してからもう一度取り込んでください。"
            )
            % {"count": len(bad), "line": bad[0].line, "errors": "、".join(bad[0].errors)},
            code="bad_rows",
        )
    scope = _company_scope(organisation_id=actor.organisation_id, department=department)
    companies = {company.name: company for company in scope}
    created = 0
    contacts = []
    for row in rows:
        company = companies.get(row.company)
        if company is None:
            company = Company.objects.create(
                organisation_id=actor.organisation_id,
                department=department,
                name=row.company,
                kana=row.kana,
            )
            companies[row.company] = company
            created += 1
        contacts.append(
            Contact(
                company=company,
                name=row.name,
                email=row.email,
                phone=row.phone,
                title=row.title,
            )
        )
    Contact.objects.bulk_create(contacts)
    audit_record(
        event="addressbook.import",
        organisation=actor.organisation,
        actor=actor,
        subject="addressbook",
        detail={
            "companies": created,
            "contacts": len(contacts),
            "department": department.name if department else None,
        },
        meta=meta,
    )
    return ImportResult(companies=created, contacts=len(contacts))


def contacts_export(
    *, actor: Staff, encoding: str = csvfile.UTF8, meta: RequestMeta = SYSTEM
) -> bytes:
    """Every contact the actor can see, as a CSV file; the export is in the audit log."""
    contacts = list(
        contacts_visible_to(actor).order_by("company__kana", "company__name", "name", "id")
    )
    data = csvfile.write(
        ((c.company.name, c.company.kana, c.name, c.email, c.phone, c.title) for c in contacts),
        encoding=encoding,
    )
    audit_record(
        event="addressbook.export",
        organisation=actor.organisation,
        actor=actor,
        subject="addressbook",
        detail={"encoding": encoding, "contacts": len(contacts)},
        meta=meta,
    )
    return data
