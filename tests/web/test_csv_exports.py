"""Formula injection in every CSV keiyaku hands out (acceptance).

One hostile row for each of = + - @, tab and CR goes into every exported table: the address book
(UTF-8 and Shift_JIS), the audit log and the staff list. Each export, downloaded over HTTP as an
admin and read with Python's csv module, has no cell that begins with a formula character. The
address book and the staff list also import back to the values they were exported from.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import get_resolver

from keiyaku.accounts.csv_import import staff_csv_plan
from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.services import (
    department_create,
    department_get_or_create,
    organisation_create,
    staff_create,
    staff_import_apply,
    staff_invite,
)
from keiyaku.addressbook import csvfile
from keiyaku.addressbook import services as addressbook
from keiyaku.addressbook.models import Company, Contact
from keiyaku.contracts import services
from keiyaku.excel_csv import FORMULA_STARTS
from tests.flow import External, draft_contract, enter_code, last_link

pytestmark = pytest.mark.django_db(transaction=True)

STARTS = {"eq": "=", "plus": "+", "minus": "-", "at": "@", "tab": "\t", "cr": "\r"}
# What each start's hostile text continues with: a formula that would run a command.
PAYLOAD = "cmd|' /C calc'!A0"
# Starts that single-line inputs accept; a tab or CR is refused by every single-line service
# (keiyaku.text_input), and the services strip the text they keep.
TYPED = ["=", "+", "-", "@"]


def admin_client(personas) -> Client:
    client = Client()
    client.force_login(personas.admin)
    return client


def cells(data: bytes, encoding: str) -> Iterator[str]:
    """Every cell of a downloaded CSV file, as Python's csv module reads it."""
    text = data.decode("cp932" if encoding == "shift_jis" else "utf-8-sig")
    for row in csv.reader(io.StringIO(text, newline="")):
        yield from row


def assert_no_formula(data: bytes, encoding: str = "utf-8") -> None:
    found = [cell for cell in cells(data, encoding) if cell.startswith(FORMULA_STARTS)]
    assert not found, found


def assert_guarded(data: bytes, hostile: list[str], encoding: str = "utf-8") -> None:
    """Each hostile text is in the file, with the apostrophe that makes it text."""
    everything = list(cells(data, encoding))
    for text in hostile:
        assert any(cell.startswith("'" + text) for cell in everything), repr(text)
    assert_no_formula(data, encoding)


# --- address book --------------------------------------------------------------------------


def fill_address_book(personas) -> list[str]:
    """One company and contact per start; returns the hostile texts written."""
    written = []
    for start in TYPED:
        text = start + PAYLOAD
        company = addressbook.company_create(
            actor=personas.sender, name=f"{text} 会社", kana=f"{text} カナ"
        )
        addressbook.contact_create(
            company=company,
            actor=personas.sender,
            name=f"{text} 氏名",
            # "=", "+" and "-" may begin a valid address; "@" may not.
            email=f"{start}x@example.jp" if start != "@" else "at@example.jp",
            phone=f"{start}81-3-1234-5678",
            title=f"{text} 役職",
        )
        written.append(text)
    # No service keeps a tab or CR at the start of these fields (single-line inputs refuse
    # them, and every value is stripped), so these rows are written directly: they stand for
    # rows stored before those checks existed, which the export must still neutralise.
    for start in ("\t", "\r"):
        text = start + PAYLOAD
        company = Company.objects.create(
            organisation=personas.org, name=f"{text} 会社", kana=f"{text} カナ"
        )
        Contact.objects.create(
            company=company,
            name=f"{text} 氏名",
            email=f"{'tab' if start == chr(9) else 'cr'}@example.jp",
            phone=f"{text} 電話",
            title=f"{text} 役職",
        )
        written.append(text)
    return written


@pytest.mark.parametrize("encoding", ["utf-8", "shift_jis"])
def test_the_address_book_export_has_no_formula_cell(personas, encoding: str):
    hostile = fill_address_book(personas)
    response = admin_client(personas).get("/addressbook/export.csv", {"encoding": encoding})
    assert response.status_code == 200
    assert_guarded(response.content, hostile, encoding)
    text = response.content.decode("cp932" if encoding == "shift_jis" else "utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == 1 + len(STARTS)


def _contact_rows(organisation) -> set[tuple[str, ...]]:
    return {
        (c.company.name, c.company.kana, c.name, c.email, c.phone, c.title)
        for c in Contact.objects.filter(company__organisation=organisation)
    }


@pytest.mark.parametrize("encoding", ["utf-8", "shift_jis"])
def test_the_address_book_imports_back_to_its_values(personas, encoding: str):
    for start in [*TYPED, "'", "'=", "''"]:
        company = addressbook.company_create(actor=personas.sender, name=f"{start}会社")
        addressbook.contact_create(
            company=company,
            actor=personas.sender,
            name=f"{start}氏名",
            email="x@example.jp",
            phone=f"{start}81-3",
            title=f"{start}役職",
        )
    data = admin_client(personas).get("/addressbook/export.csv", {"encoding": encoding}).content

    town = organisation_create(name="別の市", slug="another-city")
    clerk = staff_create(
        organisation=town,
        username="clerk",
        password=personas.password,
        display_name="職員",
        email="clerk@another.example.jp",
    )
    addressbook.contacts_import(actor=clerk, text=csvfile.decode(data))
    assert _contact_rows(town) == _contact_rows(personas.org)


# --- audit log -----------------------------------------------------------------------------


def test_the_audit_log_export_has_no_formula_cell(personas):
    """A counterparty's company name (in the actor column), its browser's User-Agent and its
    reason for rejecting (in the details) reach the audit log."""
    hostile = []
    for key, start in STARTS.items():
        text = start + PAYLOAD
        # A tab or CR cannot begin a company name (single-line), so those counterparties
        # carry a plain name and only the User-Agent header is hostile.
        company = text if start in TYPED else "株式会社髙橋建設"
        firm = External(company, f"担当 {key}", f"{key}@example.jp", "2468")
        contract = draft_contract(personas.sender, externals=[firm])
        services.contract_send(contract=contract, actor=personas.sender)
        counterparty = Client(HTTP_USER_AGENT=text)
        link = last_link(firm.email)
        enter_code(counterparty, link, firm.code)
        response = counterparty.post(link + "reject/", {"reason": f"理由\r\n{text}"})
        assert response.status_code == 200
        hostile.append(text)

    response = admin_client(personas).get("/admin-org/audit/export.csv")
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    assert_guarded(data, hostile)
    everything = list(cells(data, "utf-8"))
    for start in TYPED:  # the company names, in the actor column
        assert any(cell.startswith(f"'{start}{PAYLOAD} 担当") for cell in everything)


# --- staff list ----------------------------------------------------------------------------


def fill_staff(personas) -> list[str]:
    written = []
    for start in TYPED:
        text = start + PAYLOAD
        department = department_create(
            organisation=personas.org, actor=personas.admin, name=f"{text} 課"
        )
        staff_invite(
            organisation=personas.org,
            actor=personas.admin,
            # A login ID may begin with + - @, not with =.
            username=f"{start}login" if start != "=" else "eq-login",
            display_name=f"{text} 氏名",
            kana=f"{text} かな",
            email=f"{start}x@city.example.jp" if start != "@" else "at@city.example.jp",
            department=department,
            roles=[Role.VIEWER],
        )
        written.append(text)
    # The administration screens refuse a tab or CR in these fields (single-line inputs), so
    # these rows come from keiyaku's own primitives, which do not check text (the demo seed,
    # a sign-in through an identity provider): they stand for rows stored another way.
    for key, start in (("tab", "\t"), ("cr", "\r")):
        text = start + PAYLOAD
        staff_create(
            organisation=personas.org,
            username=f"{key}-login",
            password=None,
            display_name=f"{text} 氏名",
            kana=f"{text} かな",
            email=f"{key}@city.example.jp",
            department=department_get_or_create(organisation=personas.org, name=f"{text} 課"),
            roles=[Role.VIEWER],
        )
        written.append(text)
    return written


def test_the_staff_list_export_has_no_formula_cell(personas):
    hostile = fill_staff(personas)
    response = admin_client(personas).get("/admin-org/staff/export.csv")
    assert response.status_code == 200
    assert_guarded(response.content, hostile)


def _staff_values(organisation) -> list[tuple[object, ...]]:
    return list(
        Staff.objects.filter(organisation=organisation)
        .order_by("username")
        .values_list("username", "display_name", "kana", "email", "department__name", "roles")
    )


def test_the_staff_list_imports_back_to_its_values(personas):
    for number, start in enumerate([*TYPED, "'", "'=", "''"]):
        department = department_create(
            organisation=personas.org, actor=personas.admin, name=f"{start}課"
        )
        staff_invite(
            organisation=personas.org,
            actor=personas.admin,
            # A login ID may begin with + - @, not with = or an apostrophe.
            username=f"{start}login{number}" if start in "+-@" else f"login{number}",
            display_name=f"{start}氏名",
            kana=f"{start}かな",
            email=f"{start}u{number}@city.example.jp" if start != "@" else "at@city.example.jp",
            department=department,
            roles=[Role.VIEWER],
        )
    before = _staff_values(personas.org)
    data = admin_client(personas).get("/admin-org/staff/export.csv").content

    plan = staff_csv_plan(data, organisation=personas.org, update=True)
    assert plan.ok, [row.errors for row in plan.rows]
    read = {row.login_id: (row.name, row.kana, row.email, row.department_name) for row in plan.rows}
    assert read == {
        login: (name, kana, email, department) for login, name, kana, email, department, _ in before
    }
    staff_import_apply(organisation=personas.org, actor=personas.admin, data=data, update=True)
    assert _staff_values(personas.org) == before


# --- contract list (issue 15) ---------------------------------------------------------------


def test_contract_list_csv_guards_every_typed_field(personas):
    from keiyaku.contracts.models import Contract
    from tests.flow import draft_contract

    hostile = []
    for number, start in enumerate(TYPED):
        text = start + PAYLOAD
        contract = draft_contract(personas.sender, title=f"{text} 件名", heading="保守委託")
        # What the form's single-line fields accept (keiyaku.text_input), as typed.
        Contract.objects.filter(pk=contract.pk).update(
            management_number=f"{start}{number}",
            counterparty_company=f"{text} 社",
            note=f"{text} 備考",
        )
        hostile += [f"{text} 件名", f"{start}{number}", f"{text} 社", f"{text} 備考"]
    response = admin_client(personas).get("/contracts/export.csv")
    assert response.status_code == 200
    assert_guarded(b"".join(response.streaming_content), hostile)


def test_the_monthly_report_and_the_import_template_guard_names_staff_typed(personas):
    """Issue 15: a department's name in the monthly report and a custom field's name in the
    contract import's template are typed by staff: a formula start stays text."""
    from keiyaku.accounts.models import Department
    from keiyaku.contracts.services.custom_fields import custom_field_save

    hostile = []
    for start in TYPED:
        name = f"{start}{PAYLOAD} 項目"
        custom_field_save(
            actor=personas.admin,
            field_id=None,
            label=name[:50],
            kind="text",
            choices=[],
            required=False,
        )
        hostile.append(name[:50])
    template = admin_client(personas).get("/contracts/import/template.csv")
    assert template.status_code == 200
    assert_guarded(template.content, hostile)

    department = f"={PAYLOAD} 課"
    Department.objects.filter(pk=personas.contracts_dept.pk).update(name=department)
    contract = draft_contract(
        personas.sender, externals=[External("株式会社A", "A", "a@example.jp", "1111")]
    )
    services.contract_send(contract=contract, actor=personas.sender)
    report = admin_client(personas).get("/reports/monthly.csv")
    assert report.status_code == 200
    assert_guarded(report.content, [department])


def test_every_csv_download_is_covered():
    """The exports above are all the CSV downloads keiyaku has (besides the static staff
    template): a new one must be added here."""
    names = {
        pattern.pattern.describe()
        for pattern in _patterns(get_resolver().url_patterns)
        if ".csv" in str(pattern.pattern)
    }
    assert names == {
        "'export.csv' [name='export']",
        "'staff/export.csv' [name='staff-export']",
        "'staff/import/template.csv' [name='staff-import-template']",
        "'audit/export.csv' [name='audit-export']",
        "'contracts/export.csv' [name='contract-export-csv']",
        "'contracts/import/template.csv' [name='contract-import-template']",
        "'reports/monthly.csv' [name='monthly-report-csv']",
    }


def _patterns(patterns) -> Iterator:
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _patterns(pattern.url_patterns)
        else:
            yield pattern
