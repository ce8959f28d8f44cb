"""Findings of a review of the state module, the service permission checks, refusals and locks.

Each test states what should hold and fails while the finding stands. The product code is not
changed here. Sections: states (1), permissions (2), translation (3), HTTP as a new user (4),
races the draft lock does not cover (5).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from django.db import models as db_models
from django.test import Client
from django.utils import translation

from keiyaku.accounts import services as accounts
from keiyaku.accounts.models import Role, Staff
from keiyaku.addressbook import services as addressbook
from keiyaku.applications.services import application_send
from keiyaku.audit.services import SYSTEM, RequestMeta
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, Contract
from keiyaku.contracts.services.boxes import box_create, box_update
from keiyaku.login import services as signin
from keiyaku.refusals import NotAllowed, Refusal
from tests.flow import External, draft_contract, enter_code, last_link

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KEIYAKU = Path(__file__).resolve().parents[2] / "keiyaku"

A = External("Acme Ltd", "Jane Doe", "jane@example.com", "2468")
BOX = {"page": 1, "x": 60, "y": 600, "width": 200, "height": 22, "kind": "text", "label": "Addr"}


def english(user: Staff | None = None) -> Client:
    """A browser with the UI switched to English, that shows a 500 instead of raising it."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    return client


def page(response) -> str:
    return html.unescape(response.content.decode())


def box_post(client: Client, contract: Contract, data: dict) -> object:
    return client.post(
        f"/contracts/{contract.pk}/boxes.json", json.dumps(data), content_type="application/json"
    )


def box_data(contract: Contract, **changes: object) -> dict:
    return {
        **BOX,
        "document": contract.documents.order_by("position").first().pk,
        "party": contract.parties.order_by("position").first().pk,
        **changes,
    }


# --- 1. a state rule decided outside keiyaku/contracts/states.py ----------------------------

# --- 2. write services that do not check the actor's right ---------------------------------


def test_removing_ones_own_second_factor_is_refused_by_the_service_when_the_organisation_requires_it(
    personas,
):
    """login/services.py:315 totp_remove lets a member remove their own TOTP even when the
    organisation requires it; only the view (login/views/account.py:81) checks the policy."""
    signin.organisation_signin_update(
        organisation=personas.org,
        actor=personas.admin,
        values=signin.PolicyValues(
            totp_required=True,
            session_timeout_minutes=30,
            oidc_enabled=False,
            oidc_issuer="",
            oidc_client_id="",
            oidc_match="email",
            oidc_create_users=False,
        ),
        meta=RequestMeta(),
    )
    with pytest.raises(Refusal):
        signin.totp_remove(staff=personas.sender, actor=personas.sender, meta=RequestMeta())


def test_a_staff_csv_import_cannot_leave_the_organisation_without_an_admin(personas):
    """accounts/services.py:456 staff_import_apply (update=True) rewrites roles without the
    last-admin check that staff_update makes (accounts/services.py:417)."""
    data = (
        "氏名,ふりがな,所属,メールアドレス,ログインID,役割\r\n"
        "管理 太郎,,総務課,kanri@city.example.jp,city-admin,契約事務担当者\r\n"
    ).encode()
    with pytest.raises(Refusal) as caught:
        accounts.staff_import_apply(
            organisation=personas.org, actor=personas.admin, data=data, update=True
        )
    assert caught.value.code == "last_admin"
    personas.admin.refresh_from_db()
    assert Role.ADMIN in personas.admin.roles


@pytest.mark.django_db(transaction=True)
def test_a_staff_approver_of_another_department_cannot_readdress_an_external_party(personas):
    """contracts/permissions.py:30 require_contract_change accepts any sender who can *see* the
    contract, and contracts_visible_to shows a contract to every staff party: an approver who
    also holds the sender role in another department may redirect the company's signing
    request to their own address (and reset its access code, cancel, remind). Policy question:
    being asked to approve grants the right to change the contract."""
    approver = accounts.staff_create(
        organisation=personas.org,
        username="roads-approver",
        password=personas.password,
        display_name="Roads approver",
        email="roads-approver@city.example.jp",
        department=personas.other_dept,
        roles=[Role.SENDER, Role.APPROVER],
    )
    contract = draft_contract(personas.sender, externals=[A])
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=approver, role="approver"
    )
    services.contract_send(contract=contract, actor=personas.sender)
    external = contract.parties.get(kind="external")
    with pytest.raises(NotAllowed):
        services.party_change_email(
            party=external, actor=approver, email="roads-approver@city.example.jp"
        )


# --- 3. refusals and messages not translated -------------------------------------------------


def test_an_address_book_import_refusal_is_all_english(personas):
    """addressbook/csvfile.py:100-117 writes each row's reasons as Japanese literals; the
    refusal of contacts_import (addressbook/services.py:334) and the preview embed them."""
    text = "会社名,氏名,メールアドレス\r\nAcme Ltd,,not-an-address\r\n"
    with translation.override("en"), pytest.raises(Refusal) as caught:
        addressbook.contacts_import(actor=personas.sender, text=text)
    assert not JAPANESE.search(caught.value.message), caught.value.message


def test_the_address_book_preview_gives_row_reasons_in_english(personas):
    """addressbook/csvfile.py:100-117: the preview's reasons per row are not through gettext."""
    text = "会社名,氏名,メールアドレス\r\nAcme Ltd,,not-an-address\r\n"
    with translation.override("en"):
        (row,) = addressbook.import_check(actor=personas.sender, text=text)
    assert row.errors
    assert not any(JAPANESE.search(error) for error in row.errors), row.errors


def test_a_templates_company_slots_are_named_in_english(personas):
    """contracts/services/templates.py:68 stores the slot label f"事業者{n}" (not through
    gettext); the template list and the apply screen show it to an English user."""
    contract = draft_contract(personas.sender, externals=[A], title="Road repair")
    services.template_save(contract=contract, actor=personas.sender, name="Works contract")
    listing = page(english(personas.sender).get("/templates/"))
    assert "Works contract" in listing
    assert "事業者" not in listing


def test_an_automatic_reminder_is_credited_in_english_in_the_history(personas):
    """contracts/services/followup.py:82 writes actor_label "keiyaku（自動）" to the audit log;
    the contract's history shows it as is to an English user."""
    contract = draft_contract(personas.sender, externals=[A], title="Road repair")
    services.contract_send(contract=contract, actor=personas.sender)
    services.contract_remind(contract=contract, actor=None)
    detail = page(english(personas.sender).get(f"/contracts/{contract.pk}/"))
    assert "（自動）" not in detail


# --- 4. HTTP as a new user in English: 500s and lost input ------------------------------------


def test_box_api_refuses_a_document_id_in_unicode_digits(personas):
    """web/views/boxes.py:98: "²".isdigit() is true but int("²") raises: 500, not a refusal."""
    contract = draft_contract(personas.sender, externals=[A])
    response = box_post(english(personas.sender), contract, box_data(contract, document="²"))
    assert response.status_code == 400


def test_box_api_refuses_a_party_id_in_unicode_digits(personas):
    """contracts/services/boxes.py:94-97 (_apply): isdigit() then int(): 500 for "²"."""
    contract = draft_contract(personas.sender, externals=[A])
    response = box_post(english(personas.sender), contract, box_data(contract, party="²"))
    assert response.status_code == 400


def test_box_api_refuses_a_coordinate_that_is_not_a_number(personas):
    """contracts/services/boxes.py:52-57 (_number) accepts float("nan"), which passes every
    bounds check (comparisons with NaN are false) and fails on insert: 500."""
    contract = draft_contract(personas.sender, externals=[A])
    response = box_post(english(personas.sender), contract, box_data(contract, x="nan"))
    assert response.status_code == 400
    assert response.json()["field"] == "x"


def test_box_api_refuses_a_maximum_length_out_of_range(personas):
    """contracts/services/boxes.py:115-125: max_length has no upper bound; 10**30 overflows
    the database column: 500."""
    contract = draft_contract(personas.sender, externals=[A])
    response = box_post(english(personas.sender), contract, box_data(contract, max_length=10**30))
    assert response.status_code == 400
    assert response.json()["field"] == "max_length"


@pytest.mark.django_db(transaction=True)
def test_a_party_link_refuses_box_names_in_unicode_digits(personas):
    """contracts/services/boxes.py:201-203 (box_values_clean): a party (no login beyond the
    access code) posting box_² to confirm/ gets a 500."""
    contract = draft_contract(personas.sender, externals=[A])
    services.contract_send(contract=contract, actor=personas.sender)
    link = last_link(A.email)
    party = english()
    enter_code(party, link, A.code)
    assert party.post(link + "confirm/", {"box_²": "x"}).status_code in (200, 400)


@pytest.mark.django_db(transaction=True)
def test_a_party_link_refuses_document_hashes_in_unicode_digits(personas):
    """web/views/party_link.py:255-256: sha256_² passes isdigit() and int() raises: 500."""
    contract = draft_contract(personas.sender, externals=[A])
    services.contract_send(contract=contract, actor=personas.sender)
    link = last_link(A.email)
    party = english()
    enter_code(party, link, A.code)
    response = party.post(link + "complete/", {"sha256_²": "0" * 64})
    assert response.status_code != 500


def test_a_refused_party_keeps_what_the_user_typed(personas):
    """web/views/contracts.py:156-177: a refused 「署名者を追加」 redirects to the detail page
    and the form comes back empty: company, name and e-mail must be typed again."""
    contract = draft_contract(personas.sender)
    response = english(personas.sender).post(
        f"/contracts/{contract.pk}/parties/",
        {
            "kind": "external",
            "role": "signer",
            "company": "Typed Company Ltd",
            "name": "Typed Person",
            "email": "typed.person@example.com",
            "access_code": "12",
        },
        follow=True,
    )
    shown = page(response)
    assert "4 to 32" in shown  # the refusal is shown …
    assert "typed.person@example.com" in shown  # … and what was typed is kept


# --- 5. races the draft lock does not cover -----------------------------------------------------


def test_a_box_update_does_not_undo_a_concurrent_move(personas):
    """contracts/services/boxes.py:157-166: box_update applies the change to the caller's
    (stale) Box and saves every field (save(force_update=True)); a concurrent move is undone."""
    contract = draft_contract(personas.sender, externals=[A])
    box = box_create(
        document=contract.documents.get(), actor=personas.sender, data=box_data(contract)
    )
    first, second = Box.objects.get(pk=box.pk), Box.objects.get(pk=box.pk)
    box_update(box=second, actor=personas.sender, data={"x": 100})
    box_update(box=first, actor=personas.sender, data={"label": "Address"})
    box.refresh_from_db()
    assert (box.x, box.label) == (100, "Address")


def test_a_box_update_after_a_concurrent_delete_is_a_refusal(personas):
    """contracts/services/boxes.py:157-166: the box is not read again under the lock; one
    removed meanwhile (box_delete, or party_remove's cascade) makes save(force_update=True)
    raise DatabaseError: 500 instead of a refusal."""
    contract = draft_contract(personas.sender, externals=[A])
    box = box_create(
        document=contract.documents.get(), actor=personas.sender, data=box_data(contract)
    )
    stale = Box.objects.get(pk=box.pk)
    services.party_remove(party=contract.parties.get(), actor=personas.sender)
    with pytest.raises(ContractError):
        box_update(box=stale, actor=personas.sender, data={"x": 80})


@pytest.mark.django_db(transaction=True)
def test_a_box_on_a_document_removed_meanwhile_is_a_refusal(personas):
    """contracts/services/boxes.py:141-145: box_create locks the contract but does not read the
    document again; a document removed meanwhile fails the foreign key at commit: 500."""
    contract = draft_contract(personas.sender, externals=[A], documents=2)
    stale = contract.documents.order_by("position").last()
    services.document_remove(document=stale, actor=personas.sender)
    with pytest.raises(ContractError):
        box_create(
            document=stale,
            actor=personas.sender,
            data={**BOX, "party": contract.parties.get().pk},
        )
    assert not Box.objects.filter(document_id=stale.pk).exists()


def test_sending_an_application_locks_the_draft(personas, monkeypatch):
    """applications/services.py:105 checks the draft with exists() and no row lock, so a
    「送信」 committing meanwhile still gets an application link mailed for a sent contract (the
    other draft edits use select_for_update; SQLite hides it, PostgreSQL does not)."""
    locked: list[type] = []
    original = db_models.QuerySet.select_for_update

    def recording(self, *args, **kwargs):
        locked.append(self.model)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(db_models.QuerySet, "select_for_update", recording)
    contract = draft_contract(personas.sender)
    locked.clear()
    application_send(
        contract=contract,
        actor=personas.sender,
        company="Acme Ltd",
        email="a@example.com",
        meta=SYSTEM,
    )
    assert Contract in locked


def test_a_viewer_is_not_shown_the_draft_forms_they_may_not_use(personas):
    """The contract page showed a viewer the forms to add parties and send, each then a 403:
    the page shows what `may_change_contract` allows."""
    contract = draft_contract(personas.sender, externals=[A])
    for staff, shown in ((personas.sender, True), (personas.viewer, False)):
        client = Client()
        client.force_login(staff)
        detail = page(client.get(f"/contracts/{contract.pk}/"))
        assert ('id="party-form"' in detail) is shown
        assert ('id="send-button"' in detail) is shown
