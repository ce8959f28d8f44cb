"""Who sees which contract (R29): one's department, shares, admins everything, nothing outside."""

from __future__ import annotations

import pytest

from keiyaku.accounts.models import Role
from keiyaku.accounts.services import (
    department_create,
    department_update,
    organisation_update_settings,
    staff_create,
)
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.selectors import contracts_visible_to
from keiyaku.contracts.services.sharing import contract_share_add, contract_share_remove
from keiyaku.refusals import NotAllowed
from tests.flow import draft_contract


def titles(staff) -> set[str]:
    return set(contracts_visible_to(staff).values_list("title", flat=True))


@pytest.fixture
def contract(personas):
    return draft_contract(personas.sender, title="契約課の案件")


def test_department_members_and_admins_see_it_others_do_not(personas, contract):
    assert titles(personas.sender) == {"契約課の案件"}
    assert titles(personas.viewer) == {"契約課の案件"}  # same department
    assert titles(personas.admin) == {"契約課の案件"}  # admin of the organisation
    assert titles(personas.mayor) == set()  # 土木課
    assert titles(personas.outsider) == set()  # another organisation, even as its admin


def test_sharing_with_a_department_or_a_person(personas, contract):
    share = contract_share_add(
        contract=contract, actor=personas.sender, department=personas.other_dept
    )
    assert titles(personas.mayor) == {"契約課の案件"}
    contract_share_remove(share=share, actor=personas.sender)
    assert titles(personas.mayor) == set()
    contract_share_add(contract=contract, actor=personas.sender, staff=personas.mayor)
    assert titles(personas.mayor) == {"契約課の案件"}
    with pytest.raises(ContractError):
        contract_share_add(contract=contract, actor=personas.sender, staff=personas.mayor)
    with pytest.raises(ContractError):  # never across organisations
        contract_share_add(contract=contract, actor=personas.sender, staff=personas.outsider)


def test_viewers_cannot_share(personas, contract):
    with pytest.raises(NotAllowed):
        contract_share_add(contract=contract, actor=personas.viewer, staff=personas.mayor)


def test_sub_departments_when_the_organisation_chooses(personas, contract):
    bureau = department_create(organisation=personas.org, actor=personas.admin, name="財務部")
    department_update(
        department=personas.contracts_dept, actor=personas.admin, name="契約課", parent=bureau
    )
    head = staff_create(
        organisation=personas.org,
        username="bucho",
        password=None,
        display_name="財務 部長",
        email="bucho@city.example.jp",
        department=bureau,
        roles=[Role.APPROVER],
    )
    assert titles(head) == set()
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=True,
        ip_allowlist="",
        current_ip=None,
    )
    head.refresh_from_db()
    assert titles(head) == {"契約課の案件"}
    # The section itself does not see upwards.
    assert titles(personas.mayor) == set()


def test_a_disabled_member_sees_nothing(personas, contract):
    personas.sender.is_active = False
    assert titles(personas.sender) == set()


def test_department_tree_cannot_loop(personas):
    from keiyaku.accounts.services import AccountsError

    bureau = department_create(organisation=personas.org, actor=personas.admin, name="財務部")
    department_update(
        department=personas.contracts_dept, actor=personas.admin, name="契約課", parent=bureau
    )
    with pytest.raises(AccountsError):
        department_update(
            department=bureau, actor=personas.admin, name="財務部", parent=personas.contracts_dept
        )
