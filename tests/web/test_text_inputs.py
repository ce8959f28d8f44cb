"""Line breaks and control characters in typed text (finding: text injected into e-mails).

A forwarder wrote a fake 「重要」 paragraph with a link into the next signer's mail through a
line break in the name; a CR in a title made every mail about the contract fail. Every
single-line input of every screen, posted with a CR, LF, NUL or U+2028 inside, is refused with
the Japanese message and nothing is stored; multi-line inputs (notes, reasons) take line breaks
but refuse the other control characters. The services refuse the same (keiyaku.text_input), so
a caller without a form (the API, a job) is refused too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku.accounts.models import Department, Organisation, Staff
from keiyaku.addressbook import services as addressbook
from keiyaku.addressbook.models import Company, Contact
from keiyaku.applications.models import Application
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.models import Box, Contract, ContractTemplate, Party
from keiyaku.login.models import OrganisationSignIn
from keiyaku.text_input import TextRefusal
from tests.applications.helpers import answers, application_link
from tests.applications.helpers import send as application_send
from tests.flow import External, draft_contract, enter_code, last_link, mails_to
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
# The characters of the finding: CR, LF, NUL and the Unicode line separator.
CHARACTERS = {"cr": "\r", "lf": "\n", "nul": "\x00", "u2028": "\u2028"}
REFUSED = "改行・タブなどの制御文字"
REFUSED_MULTI_LINE = "制御文字"


def logged_in(user: Staff) -> Client:
    client = Client()
    client.force_login(user)
    return client


@dataclass
class Target:
    """One form: who posts it where, with which valid values, and what it would store."""

    client: Client
    url: str
    data: dict[str, Any]
    stored: Callable[[], object]
    """A snapshot of everything the post could change."""
    files: Callable[[], dict[str, Any]] = field(default=lambda: {})


def _sent(personas, *externals: External) -> Contract:
    contract = draft_contract(personas.sender, externals=externals)
    services.contract_send(contract=contract, actor=personas.sender)
    return contract


def _party_rows(contract: Contract) -> Callable[[], object]:
    return lambda: list(contract.parties.values_list("company", "name", "email", "status"))


def contract_create(personas) -> Target:
    return Target(
        logged_in(personas.sender),
        "/contracts/new/",
        {"title": "道路補修工事", "management_number": "R8-1", "counterparty_company": "髙橋建設"},
        lambda: Contract.objects.count(),
        files=lambda: {"files": SimpleUploadedFile("a.pdf", make_pdf(), "application/pdf")},
    )


def party_add(personas) -> Target:
    contract = draft_contract(personas.sender)
    return Target(
        logged_in(personas.sender),
        f"/contracts/{contract.pk}/parties/",
        {
            "kind": "external",
            "role": "signer",
            "company": FIRM.company,
            "name": FIRM.name,
            "email": FIRM.email,
            "access_code": FIRM.code,
        },
        _party_rows(contract),
    )


def party_email(personas) -> Target:
    contract = _sent(personas, FIRM)
    party = contract.parties.get()
    return Target(
        logged_in(personas.sender),
        f"/contracts/{contract.pk}/parties/{party.pk}/email/",
        {"email": "new@example.jp"},
        _party_rows(contract),
    )


def template_save(personas) -> Target:
    contract = draft_contract(personas.sender, externals=[FIRM])
    return Target(
        logged_in(personas.sender),
        f"/contracts/{contract.pk}/save-template/",
        {"name": "工事請負"},
        lambda: list(ContractTemplate.objects.values_list("name", flat=True)),
    )


def template_apply(personas) -> Target:
    source = draft_contract(personas.sender, externals=[FIRM])
    template = services.template_save(contract=source, actor=personas.sender, name="工事請負")
    contract = draft_contract(personas.sender)
    return Target(
        logged_in(personas.sender),
        f"/contracts/{contract.pk}/apply-template/{template.pk}/",
        {
            "slot0-company": FIRM.company,
            "slot0-name": FIRM.name,
            "slot0-email": FIRM.email,
            "slot0-access_code": FIRM.code,
        },
        _party_rows(contract),
    )


def application_send_form(personas) -> Target:
    contract = draft_contract(personas.sender)
    return Target(
        logged_in(personas.sender),
        f"/contracts/{contract.pk}/applications/",
        {"company": FIRM.company, "email": FIRM.email},
        lambda: list(Application.objects.values_list("company", "email")),
    )


def application_form(personas) -> Target:
    contract = draft_contract(personas.sender)
    application_send(contract, personas.sender)
    return Target(
        Client(),
        application_link("office@takahashi.example.jp"),
        answers(),
        lambda: (
            list(Application.objects.values_list("status", "signer_name")),
            _party_rows(contract)(),
        ),
    )


def forward(personas) -> Target:
    contract = _sent(personas, FIRM)
    client = Client()
    link = last_link(FIRM.email)
    enter_code(client, link, FIRM.code)
    return Target(
        client,
        link + "forward/",
        {"company": FIRM.company, "name": "髙橋 花子", "email": "hanako@example.jp"},
        lambda: (_party_rows(contract)(), len(mails_to(personas.sender.email))),
    )


def company_create(personas) -> Target:
    return Target(
        logged_in(personas.sender),
        "/addressbook/companies/new/",
        {"name": "株式会社A", "kana": "エー", "visibility": "shared"},
        lambda: list(Company.objects.values_list("name", "kana")),
    )


def company_edit(personas) -> Target:
    company = addressbook.company_create(actor=personas.sender, name="株式会社A")
    return Target(
        logged_in(personas.sender),
        f"/addressbook/companies/{company.pk}/edit/",
        {"name": "株式会社B", "kana": "ビー"},
        lambda: list(Company.objects.values_list("name", "kana")),
    )


def _contact_fields() -> dict[str, str]:
    return {"name": "佐藤", "email": "sato@example.jp", "phone": "011-1", "title": "課長"}


def contact_create(personas) -> Target:
    company = addressbook.company_create(actor=personas.sender, name="株式会社A")
    return Target(
        logged_in(personas.sender),
        f"/addressbook/companies/{company.pk}/contacts/new/",
        _contact_fields(),
        lambda: list(Contact.objects.values_list("name", "email", "phone", "title")),
    )


def contact_edit(personas) -> Target:
    company = addressbook.company_create(actor=personas.sender, name="株式会社A")
    contact = addressbook.contact_create(
        company=company, actor=personas.sender, name="甲", email="a@example.jp"
    )
    return Target(
        logged_in(personas.sender),
        f"/addressbook/contacts/{contact.pk}/edit/",
        _contact_fields(),
        lambda: list(Contact.objects.values_list("name", "email", "phone", "title")),
    )


def _staff_fields() -> dict[str, Any]:
    return {
        "display_name": "新人 三郎",
        "kana": "しんじん さぶろう",
        "username": "saburo",
        "email": "saburo@city.example.jp",
        "roles": ["viewer"],
        "is_active": "on",
    }


def _staff_rows() -> object:
    return list(Staff.objects.values_list("display_name", "kana", "username", "email"))


def staff_create(personas) -> Target:
    return Target(logged_in(personas.admin), "/admin-org/staff/new/", _staff_fields(), _staff_rows)


def staff_edit(personas) -> Target:
    return Target(
        logged_in(personas.admin),
        f"/admin-org/staff/{personas.viewer.pk}/",
        _staff_fields(),
        _staff_rows,
    )


def _departments() -> object:
    return list(Department.objects.values_list("name", flat=True))


def department_create(personas) -> Target:
    return Target(
        logged_in(personas.admin), "/admin-org/departments/", {"name": "財政課"}, _departments
    )


def department_edit(personas) -> Target:
    return Target(
        logged_in(personas.admin),
        f"/admin-org/departments/{personas.other_dept.pk}/",
        {"name": "道路課"},
        _departments,
    )


def organisation_create(personas) -> Target:
    operator = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-op-1")
    return Target(
        logged_in(operator),
        "/admin-org/organisations/",
        {
            "name": "札幌市",
            "slug": "sapporo",
            "admin_username": "sapporo-admin",
            "admin_name": "札幌 管理者",
            "admin_email": "admin@city.sapporo.example.jp",
        },
        lambda: (list(Organisation.objects.values_list("name", flat=True)), _staff_rows()),
    )


def signin_settings(personas) -> Target:
    return Target(
        logged_in(personas.admin),
        "/signin/settings/",
        {
            "session_timeout_minutes": "30",
            "oidc_issuer": "https://idp.city.example.jp",
            "oidc_client_id": "keiyaku",
            "oidc_match": "email",
        },
        lambda: list(
            OrganisationSignIn.objects.values_list("oidc_issuer", "oidc_client_id", flat=False)
        ),
    )


SINGLE_LINE: dict[str, tuple[Callable[[Any], Target], tuple[str, ...]]] = {
    "contract": (contract_create, ("title", "management_number", "counterparty_company")),
    "party": (party_add, ("company", "name", "email")),
    "party_email": (party_email, ("email",)),
    "template_name": (template_save, ("name",)),
    "template_slot": (template_apply, ("slot0-company", "slot0-name", "slot0-email")),
    "application_request": (application_send_form, ("company", "email")),
    "application_form": (
        application_form,
        ("company", "title", "name", "email", "staff1_name", "staff1_email"),
    ),
    "forward": (forward, ("company", "name", "email")),
    "company_new": (company_create, ("name", "kana")),
    "company_edit": (company_edit, ("name", "kana")),
    "contact_new": (contact_create, ("name", "email", "phone", "title")),
    "contact_edit": (contact_edit, ("name", "email", "phone", "title")),
    "staff_new": (staff_create, ("display_name", "kana", "username", "email")),
    "staff_edit": (staff_edit, ("display_name", "kana", "username", "email")),
    "department_new": (department_create, ("name",)),
    "department_edit": (department_edit, ("name",)),
    "organisation": (organisation_create, ("name", "slug", "admin_username", "admin_name")),
    "signin_settings": (signin_settings, ("oidc_issuer", "oidc_client_id")),
}


def _single_line_value(name: str, char: str) -> str:
    if name in ("username", "admin_username", "slug"):
        return f"abc{char}def"
    if name == "oidc_issuer":
        return f"https://idp.example.jp/a{char}b"
    return f"甲{char}乙" if "email" not in name else f"a{char}b@example.jp"


def _post(target: Target, data: dict[str, Any]):
    response = target.client.post(target.url, {**data, **target.files()}, follow=True)
    assert response.status_code != 500
    return response


@pytest.mark.parametrize("screen", list(SINGLE_LINE))
def test_a_single_line_input_refuses_line_breaks_and_control_characters(personas, screen: str):
    # One form set up per screen, every field and character posted to it: a refused post
    # stores nothing (asserted each time), so the next post starts from the same state.
    setup, names = SINGLE_LINE[screen]
    target = setup(personas)
    before = target.stored()

    for name in names:
        for char_id, char in CHARACTERS.items():
            response = _post(target, {**target.data, name: _single_line_value(name, char)})

            assert REFUSED in response.content.decode(), (name, char_id)
            assert target.stored() == before, (name, char_id)


# --- multi-line inputs -----------------------------------------------------------------------


def contract_note(personas) -> Target:
    target = contract_create(personas)
    target.stored = lambda: list(Contract.objects.values_list("note", flat=True))
    return target


def cancel(personas) -> Target:
    contract = draft_contract(personas.sender)
    return Target(
        logged_in(personas.sender),
        f"/contracts/{contract.pk}/cancel/",
        {},
        lambda: list(Contract.objects.values_list("status", "status_reason")),
    )


def reject(personas) -> Target:
    contract = _sent(personas, FIRM)
    client = Client()
    link = last_link(FIRM.email)
    enter_code(client, link, FIRM.code)
    return Target(
        client,
        link + "reject/",
        {},
        lambda: (
            list(Contract.objects.values_list("status", "status_reason")),
            _party_rows(contract)(),
        ),
    )


def forward_note(personas) -> Target:
    target = forward(personas)
    target.stored = lambda: list(Party.objects.values_list("name", "reason"))
    return target


def company_note(personas) -> Target:
    target = company_create(personas)
    target.stored = lambda: list(Company.objects.values_list("name", "note"))
    return target


MULTI_LINE: dict[str, tuple[Callable[[Any], Target], str]] = {
    "contract_note": (contract_note, "note"),
    "cancel_reason": (cancel, "reason"),
    "reject_reason": (reject, "reason"),
    "forward_note": (forward_note, "note"),
    "company_note": (company_note, "note"),
}


@pytest.mark.parametrize("screen", list(MULTI_LINE))
def test_a_multi_line_input_refuses_other_control_characters(personas, screen: str):
    setup, name = MULTI_LINE[screen]
    target = setup(personas)
    before = target.stored()

    for char in ["\x00", "\x07", "\u2028", "\u202e"]:
        response = _post(target, {**target.data, name: f"一行目{char}二行目"})

        assert REFUSED_MULTI_LINE in response.content.decode(), repr(char)
        assert target.stored() == before, repr(char)


@pytest.mark.parametrize("screen", list(MULTI_LINE))
def test_a_multi_line_input_keeps_its_line_breaks_and_tabs(personas, screen: str):
    setup, name = MULTI_LINE[screen]
    target = setup(personas)

    response = _post(target, {**target.data, name: "一行目\r\n\t二行目"})

    assert REFUSED_MULTI_LINE not in response.content.decode()
    assert "一行目\r\n\t二行目" in _texts(target.stored())


def _texts(stored: object) -> list[str]:
    """Every string in a snapshot (nested lists and tuples)."""
    if isinstance(stored, str):
        return [stored]
    if isinstance(stored, list | tuple):
        return [text for item in stored for text in _texts(item)]
    return []


# --- the mail of the finding ---------------------------------------------------------------


def test_a_forwarders_name_cannot_write_a_paragraph_into_the_next_signers_mail(personas):
    contract = _sent(personas, FIRM)
    client = Client()
    link = last_link(FIRM.email)
    enter_code(client, link, FIRM.code)
    forged = (
        "髙橋 花子\n\n【重要】口座が変更になりました。https://evil.example/ から手続きしてください"
    )

    response = client.post(
        link + "forward/", {"company": FIRM.company, "name": forged, "email": "hanako@example.jp"}
    )

    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert mails_to("hanako@example.jp") == []
    assert contract.parties.count() == 1
    with pytest.raises(TextRefusal) as refused:
        services.party_forward(
            party=contract.parties.get(), name=forged, email="hanako@example.jp", meta=SYSTEM
        )
    assert refused.value.field == "name"


def test_a_title_with_a_carriage_return_is_refused_so_no_mail_header_breaks(personas):
    with pytest.raises(TextRefusal) as refused:
        draft_contract(personas.sender, title="道路補修工事\r請負契約")
    assert refused.value.field == "title" and "U+000D" in refused.value.message
    assert not Contract.objects.exists()


def test_a_box_label_is_one_line(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    response = logged_in(personas.sender).post(
        f"/contracts/{contract.pk}/boxes.json",
        json.dumps(
            {
                "document": contract.documents.get().pk,
                "page": 1,
                "x": 50,
                "y": 50,
                "width": 100,
                "height": 20,
                "party": contract.parties.get().pk,
                "label": "住所\r\nBcc: someone",
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "label" and REFUSED in response.json()["error"]
    assert not Box.objects.exists()
