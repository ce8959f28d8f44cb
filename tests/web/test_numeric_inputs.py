"""Numbers typed or sent to keiyaku (finding: NaN or infinite box coordinates gave a 500).

Python's JSON reader takes NaN, Infinity and -Infinity literals, and 1e309 becomes infinite;
NaN compares false with every bound, so it passed the page checks and the database refused it.
Every numeric input is checked finite and in range by its service: a refusal with its field,
never a 500, and nothing stored.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, Contract
from keiyaku.contracts.services.boxes import box_values_clean
from keiyaku.login.models import OrganisationSignIn
from keiyaku.login.services import PolicyValues, SignInRefused, organisation_signin_update
from tests.flow import External, draft_contract, enter_code, last_link
from tests.pdfs import make_pdf
from tests.web.sending import send_confirmed

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")

# JSON texts (not Python values): NaN and Infinity are what Python's json module reads.
NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e309", '"1e999"', '"nan"', '"inf"', '"-inf"']
# Finite, but not a place on the page, or not a number at all.
OUT_OF_RANGE = ["1e300", "-1e300", "-5", "true", '"²"', "[]", "{}", "null"]
GEOMETRY = ["x", "y", "width", "height"]


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(fields: dict[str, str]) -> str:
    """A JSON object written by hand, so that a value can be NaN or Infinity."""
    return "{" + ", ".join(f'"{key}": {value}' for key, value in fields.items()) + "}"


def _fields(contract: Contract) -> dict[str, str]:
    return {
        "document": str(contract.documents.get().pk),
        "page": "1",
        "x": "50",
        "y": "50",
        "width": "100",
        "height": "20",
        "party": str(contract.parties.get().pk),
        "kind": '"text"',
    }


def _where(key: str) -> set[str]:
    """The fields a refusal of a bad `key` may name: a size too large is a box off the page."""
    return {key, {"width": "x", "height": "y"}.get(key, key)}


def _refused(response, key: str, value: str = "") -> None:
    assert response.status_code == 400, (value, response.content.decode())
    body = response.json()
    assert body["field"] in _where(key), (value, body)
    assert body["error"] and body["code"]


@pytest.mark.parametrize("key", [*GEOMETRY, "page"])
def test_a_new_box_at_no_real_place_is_refused_with_its_field(personas, key: str):
    # One contract for every value: a refused post stores nothing (asserted each time).
    contract = draft_contract(personas.sender, externals=[FIRM])
    client = staff_client(personas.sender)
    for value in NOT_FINITE + OUT_OF_RANGE:
        response = client.post(
            f"/contracts/{contract.pk}/boxes.json",
            _body({**_fields(contract), key: value}),
            content_type="application/json",
        )
        _refused(response, key, value)
        assert not Box.objects.exists(), value


@pytest.mark.parametrize("key", [*GEOMETRY, "page", "max_length"])
def test_a_box_moved_to_no_real_place_is_refused_and_stays(personas, key: str):
    contract = draft_contract(personas.sender, externals=[FIRM])
    client = staff_client(personas.sender)
    created = client.post(
        f"/contracts/{contract.pk}/boxes.json",
        _body(_fields(contract)),
        content_type="application/json",
    )
    assert created.status_code == 201
    before = list(Box.objects.values())

    for value in NOT_FINITE + OUT_OF_RANGE:
        if key == "max_length" and value == "null":
            continue  # null clears the limit: allowed
        response = client.patch(
            f"/contracts/{contract.pk}/boxes/{created.json()['id']}.json",
            _body({key: value}),
            content_type="application/json",
        )
        _refused(response, key, value)
        assert list(Box.objects.values()) == before, value


def test_a_box_length_limit_must_be_a_sensible_whole_number(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    client = staff_client(personas.sender)
    for value in ["0", "-1", "1e9", "10001", "2.5", '"12a"', "NaN"]:
        response = client.post(
            f"/contracts/{contract.pk}/boxes.json",
            _body({**_fields(contract), "max_length": value}),
            content_type="application/json",
        )
        _refused(response, "max_length", value)
        assert not Box.objects.exists(), value


def test_whole_numbers_as_text_or_float_are_still_accepted(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    response = staff_client(personas.sender).post(
        f"/contracts/{contract.pk}/boxes.json",
        _body({**_fields(contract), "page": '"1"', "x": '"50.5"', "max_length": "20.0"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content.decode()
    box = Box.objects.get()
    assert (box.page, box.x, box.max_length) == (1, 50.5, 20)


def test_digits_that_are_not_decimal_name_no_document_or_party(personas):
    # "²".isdigit() is true but int("²") fails: these were 500s.
    contract = draft_contract(personas.sender, externals=[FIRM])
    client = staff_client(personas.sender)
    url = f"/contracts/{contract.pk}/boxes.json"
    for key in ("document", "party"):
        response = client.post(
            url, _body({**_fields(contract), key: '"²"'}), content_type="application/json"
        )
        _refused(response, key)
    party = contract.parties.get()
    with pytest.raises(ContractError):
        box_values_clean(party, {"box_²": "x"})
    assert not Box.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_signing_form_with_a_non_decimal_document_id_is_not_a_500(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    client = Client()
    link = last_link(FIRM.email)
    enter_code(client, link, FIRM.code)
    response = client.post(link + "complete/", {"sha256_²": "0" * 64, "box_²": "x"})
    assert response.status_code == 409
    assert contract.parties.get().agreed_at is None


@pytest.mark.parametrize("amount", ["100000000000000000000", "1000000000000000"])
def test_an_amount_too_large_is_refused_on_its_field(personas, amount: str):
    response = staff_client(personas.sender).post(
        "/contracts/new/",
        {
            "title": "道路補修工事",
            "amount": amount,
            "files": SimpleUploadedFile("a.pdf", make_pdf(), "application/pdf"),
        },
    )
    assert response.status_code == 400
    assert "取引金額が大きすぎます。" in response.content.decode()
    assert not Contract.objects.exists()


def test_a_deadline_years_away_is_refused(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    response = send_confirmed(staff_client(personas.sender), contract, "9999-12-31", follow=True)
    assert "署名期限は366日以内の日付を指定してください。" in response.content.decode()
    contract.refresh_from_db()
    assert contract.is_editable and contract.deadline is None
    # Within a year is fine.
    services.contract_send(
        contract=contract, actor=personas.sender, deadline=timezone.now() + timedelta(days=300)
    )


@pytest.mark.parametrize("minutes", [0, 4, 24 * 60 + 1, 10**12, -1])
def test_an_idle_timeout_out_of_range_is_refused_by_the_service(personas, minutes: int):
    values = PolicyValues(
        totp_required=False,
        session_timeout_minutes=minutes,
        oidc_enabled=False,
        oidc_issuer="",
        oidc_client_id="",
        oidc_match="email",
        oidc_create_users=False,
    )
    with pytest.raises(SignInRefused) as refused:
        organisation_signin_update(
            organisation=personas.org, actor=personas.admin, values=values, meta=SYSTEM
        )
    assert refused.value.field == "session_timeout_minutes"
    assert not OrganisationSignIn.objects.exists()
