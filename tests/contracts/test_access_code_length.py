"""The shortest access code (R18): 4 characters, as municipal application forms use, unless the
organisation's admins raise it on the settings screen; every way of setting a code obeys it."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.accounts.services import AccountsError, organisation_update_settings
from keiyaku.applications.models import Application
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Party
from tests.applications.helpers import application_link, send, submit
from tests.flow import External, draft_contract, enter_code, last_link

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")


def require(personas, length: int) -> None:
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist="",
        current_ip=None,
        access_code_min_length=length,
    )


def add_firm(personas, code: str) -> Party:
    contract = draft_contract(personas.sender)
    return services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=FIRM.company,
        name=FIRM.name,
        email=FIRM.email,
        access_code=code,
    )


def test_four_characters_are_enough_by_default(personas):
    assert personas.org.access_code_min_length == 4
    add_firm(personas, "2468")
    with pytest.raises(ContractError) as refused:
        add_firm(personas, "246")
    assert refused.value.code == "access_code" and "4〜32文字" in refused.value.message


def test_an_organisation_that_asks_for_eight_refuses_a_six_character_code(personas):
    require(personas, 8)
    with pytest.raises(ContractError) as refused:
        add_firm(personas, "246813")
    assert refused.value.code == "access_code" and "8〜32文字" in refused.value.message
    add_firm(personas, "24681357")


@pytest.mark.django_db(transaction=True)  # the signing request goes out after the commit
def test_a_new_code_set_when_unlocking_obeys_the_organisations_length(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    link = last_link(FIRM.email)
    for _ in range(5):
        enter_code(Client(), link, "0000")
    party = contract.parties.get()
    require(personas, 8)
    with pytest.raises(ContractError):
        services.party_unlock(party=party, actor=personas.sender, access_code="135791")
    party.refresh_from_db()
    assert party.is_locked
    services.party_unlock(party=party, actor=personas.sender, access_code="13579135")
    party.refresh_from_db()
    assert not party.is_locked


@pytest.mark.django_db(transaction=True)  # as the other application tests
def test_an_application_with_a_code_shorter_than_the_organisation_asks_is_refused(personas):
    require(personas, 8)
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    link = application_link("office@takahashi.example.jp")
    response = submit(link, access_code="Kx7391", access_code_again="Kx7391")
    assert "アクセスコードは半角英数字8〜32文字で入力してください。" in response.content.decode()
    assert not contract.parties.exists() and not Application.objects.get().is_submitted
    response = submit(link, access_code="Kx-73915", access_code_again="Kx-73915")
    assert "電子契約利用申出書を提出しました" in response.content.decode()


def test_admins_set_the_length_on_the_settings_screen(personas):
    admin = Client()
    admin.force_login(personas.admin)
    page = admin.get("/admin-org/settings/").content.decode()
    assert "事業者のアクセスコードの最小文字数" in page
    response = admin.post("/admin-org/settings/", {"ip_allowlist": "", "access_code_min_length": 8})
    assert response.status_code == 302
    personas.org.refresh_from_db()
    assert personas.org.access_code_min_length == 8
    for out_of_range in (3, 33):
        response = admin.post(
            "/admin-org/settings/", {"ip_allowlist": "", "access_code_min_length": out_of_range}
        )
        assert response.status_code == 400
    # Left empty, the length is kept.
    admin.post("/admin-org/settings/", {"ip_allowlist": "", "include_subdepartments": "on"})
    personas.org.refresh_from_db()
    assert personas.org.access_code_min_length == 8 and personas.org.include_subdepartments


def test_the_service_refuses_a_length_out_of_range(personas):
    for length in (3, 33):
        with pytest.raises(AccountsError):
            require(personas, length)
