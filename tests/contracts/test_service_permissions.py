"""Every write service checks the actor's right itself (R2, R29, R36), whoever calls it.

A view, an API view and a job call the same services; here they are called directly, as a job
would, by a viewer, by a sender of a department that cannot see the contract and by the
administrator of another organisation. Each is refused with NotAllowed and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest

from keiyaku.accounts import services as accounts
from keiyaku.accounts.models import Department, Organisation, Role, Staff
from keiyaku.applications.models import Application
from keiyaku.applications.services import application_send
from keiyaku.audit.models import Event
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts import services
from keiyaku.contracts.models import (
    Box,
    Contract,
    ContractShare,
    ContractTemplate,
    Document,
    DocumentVersion,
    Link,
    Party,
)
from keiyaku.contracts.services import duplicate, sharing
from keiyaku.contracts.services.boxes import box_create, box_delete, box_update
from keiyaku.contracts.services.drafting import Upload
from keiyaku.login import services as signin
from keiyaku.login.models import OrganisationSignIn, RecoveryCode, StaffSignIn
from keiyaku.notifications.models import OutboxMessage
from keiyaku.refusals import NotAllowed
from tests.flow import External, draft_contract
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("㈱佐藤工業", "佐藤 次郎", "sato@example.jp", "2222")

BOX = {"page": 1, "x": 60, "y": 600, "width": 200, "height": 22, "kind": "text", "label": "住所"}


def sender_in(personas, department: Department, username: str) -> Staff:
    return accounts.staff_create(
        organisation=personas.org,
        username=username,
        password=personas.password,
        display_name=f"{department.name} 職員",
        email=f"{username}@city.example.jp",
        department=department,
        roles=[Role.SENDER],
    )


class World:
    """The contracts a case needs, made on first use (by the contract's own sender)."""

    def __init__(self, personas) -> None:
        self.personas = personas
        self.sender = personas.sender

    @cached_property
    def draft(self) -> Contract:
        contract = draft_contract(
            self.sender, externals=[A], staff_signers=[self.personas.mayor], documents=2
        )
        box_create(
            document=contract.documents.order_by("position").first(),
            actor=self.sender,
            data={**BOX, "party": contract.parties.get(kind="external").pk},
        )
        return contract

    @cached_property
    def party(self) -> Party:
        return self.draft.parties.get(kind="external")

    @cached_property
    def box(self) -> Box:
        return Box.objects.get(document__contract=self.draft)

    @cached_property
    def sent(self) -> Contract:
        contract = draft_contract(self.sender, externals=[B], title="送信済みの案件")
        services.contract_send(contract=contract, actor=self.sender)
        return contract

    @cached_property
    def sent_party(self) -> Party:
        return self.sent.parties.get()

    @cached_property
    def empty(self) -> Contract:
        return draft_contract(self.sender, title="署名者のいない案件")

    @cached_property
    def template(self) -> ContractTemplate:
        return services.template_save(contract=self.draft, actor=self.sender, name="工事請負")

    @cached_property
    def share(self) -> ContractShare:
        return sharing.contract_share_add(
            contract=self.draft, actor=self.sender, department=self.personas.general_dept
        )


@dataclass(frozen=True)
class Case:
    name: str
    needs: tuple[str, ...]
    call: Callable[[World, Any], object]

    def __str__(self) -> str:
        return self.name


def _pdf() -> Upload:
    return Upload(filename="追加.pdf", data=make_pdf(text="別紙"))


CONTRACT_CASES = [
    Case(
        "document_add",
        ("draft",),
        lambda w, a: services.document_add(contract=w.draft, actor=a, upload=_pdf()),
    ),
    Case(
        "document_remove",
        ("draft",),
        lambda w, a: services.document_remove(
            document=w.draft.documents.order_by("position").last(), actor=a
        ),
    ),
    Case(
        "party_add",
        ("draft",),
        lambda w, a: services.party_add(
            contract=w.draft,
            actor=a,
            kind="external",
            company=B.company,
            name=B.name,
            email=B.email,
            access_code=B.code,
        ),
    ),
    Case("party_remove", ("party",), lambda w, a: services.party_remove(party=w.party, actor=a)),
    Case(
        "party_move",
        ("party",),
        lambda w, a: services.party_move(party=w.party, actor=a, offset=1),
    ),
    Case(
        "party_set_parallel",
        ("draft",),
        lambda w, a: services.party_set_parallel(
            party=w.draft.parties.get(position=2), actor=a, parallel=True
        ),
    ),
    Case(
        "contract_send", ("draft",), lambda w, a: services.contract_send(contract=w.draft, actor=a)
    ),
    Case(
        "contract_cancel",
        ("draft",),
        lambda w, a: services.contract_cancel(contract=w.draft, actor=a, reason="誤り"),
    ),
    Case(
        "contract_remind",
        ("sent",),
        lambda w, a: services.contract_remind(contract=w.sent, actor=a),
    ),
    Case(
        "party_unlock",
        ("sent_party",),
        lambda w, a: services.party_unlock(party=w.sent_party, actor=a, access_code="9999"),
    ),
    Case(
        "party_change_email",
        ("sent_party",),
        lambda w, a: services.party_change_email(
            party=w.sent_party, actor=a, email="sato-2@example.jp"
        ),
    ),
    Case(
        "box_create",
        ("party",),
        lambda w, a: box_create(
            document=w.draft.documents.order_by("position").last(),
            actor=a,
            data={**BOX, "party": w.party.pk},
        ),
    ),
    Case("box_update", ("box",), lambda w, a: box_update(box=w.box, actor=a, data={"x": 80})),
    Case("box_delete", ("box",), lambda w, a: box_delete(box=w.box, actor=a)),
    Case(
        "template_save",
        ("draft",),
        lambda w, a: services.template_save(contract=w.draft, actor=a, name="別名"),
    ),
    Case(
        "template_apply",
        ("empty", "template"),
        lambda w, a: services.template_apply(
            contract=w.empty,
            template=w.template,
            actor=a,
            fills=[services.SlotFill(A.company, A.name, A.email, A.code)],
        ),
    ),
    Case(
        "contract_share_add",
        ("draft",),
        lambda w, a: sharing.contract_share_add(
            contract=w.draft, actor=a, department=w.personas.other_dept
        ),
    ),
    Case(
        "contract_share_remove",
        ("share",),
        lambda w, a: sharing.contract_share_remove(share=w.share, actor=a),
    ),
    Case(
        "contract_duplicate",
        ("sent",),
        lambda w, a: duplicate.contract_duplicate(contract=w.sent, actor=a),
    ),
    Case(
        "party_set_access_code",
        ("party",),
        lambda w, a: duplicate.party_set_access_code(party=w.party, actor=a, access_code="7777"),
    ),
    Case(
        "application_send",
        ("draft",),
        lambda w, a: application_send(contract=w.draft, actor=a, company=B.company, email=B.email),
    ),
]

WATCHED = [
    Contract,
    Document,
    DocumentVersion,
    Party,
    Box,
    Link,
    ContractShare,
    ContractTemplate,
    Application,
    OutboxMessage,
    Event,
    Staff,
    Department,
    Organisation,
    StaffSignIn,
    OrganisationSignIn,
    RecoveryCode,
]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row a refused call could have touched, audit log included."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in WATCHED}


def refused(personas) -> dict[str, Staff]:
    return {
        "viewer": personas.viewer,
        "sender of a department that cannot see it": sender_in(
            personas, personas.other_dept, "roads-sender"
        ),
        "admin of another organisation": personas.outsider,
    }


def test_contract_write_is_refused_to_those_without_the_right(personas):
    # One world for every case: a refused call changes nothing (the snapshot is compared after
    # each one), so every case meets the same contracts.
    world = World(personas)
    for case in CONTRACT_CASES:
        for need in case.needs:
            getattr(world, need)
    actors = refused(personas)
    before = snapshot()
    for case in CONTRACT_CASES:
        for who, actor in actors.items():
            with pytest.raises(NotAllowed) as caught:
                case.call(world, actor)
            assert caught.value.code == "forbidden", (str(case), who)
            assert snapshot() == before, (str(case), who)


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=str)
def test_contract_write_is_allowed_to_a_sender_of_the_contracts_department(personas, case):
    world = World(personas)
    for need in case.needs:
        getattr(world, need)
    colleague = sender_in(personas, personas.contracts_dept, "colleague")
    events = Event.objects.count()
    case.call(world, colleague)
    assert Event.objects.filter(actor=colleague).count() >= 1
    assert Event.objects.count() > events


def test_a_viewer_cannot_create_a_contract(personas):
    before = snapshot()
    with pytest.raises(NotAllowed):
        services.contract_create(
            actor=personas.viewer, title="閲覧者の案件", uploads=[_pdf()], amount=1
        )
    assert snapshot() == before


# --- organisation administration ---------------------------------------------------------------


ADMIN_CASES = [
    Case(
        "staff_invite",
        (),
        lambda p, a: accounts.staff_invite(
            organisation=p.org,
            actor=a,
            username="newcomer",
            display_name="新人 三郎",
            email="newcomer@city.example.jp",
            department=p.contracts_dept,
            roles=[Role.SENDER],
        ),
    ),
    Case(
        "staff_update (disable)",
        (),
        lambda p, a: accounts.staff_update(
            staff=p.viewer,
            actor=a,
            username=p.viewer.username,
            display_name=p.viewer.display_name,
            kana="",
            email=p.viewer.email,
            department=p.viewer.department,
            roles=[Role.ADMIN],
            is_active=False,
        ),
    ),
    Case(
        "department_create",
        (),
        lambda p, a: accounts.department_create(organisation=p.org, actor=a, name="財政課"),
    ),
    Case(
        "department_update",
        (),
        lambda p, a: accounts.department_update(
            department=p.other_dept, actor=a, name="道路課", parent=p.general_dept
        ),
    ),
    Case(
        "organisation_update_settings",
        (),
        lambda p, a: accounts.organisation_update_settings(
            organisation=p.org,
            actor=a,
            include_subdepartments=True,
            ip_allowlist="203.0.113.0/24",
            current_ip="203.0.113.5",
        ),
    ),
    Case(
        "staff_import_apply",
        (),
        lambda p, a: accounts.staff_import_apply(
            organisation=p.org,
            actor=a,
            data="氏名,ふりがな,所属,メールアドレス,ログインID,役割\r\n"
            "山田 一郎,,契約課,ichiro@city.example.jp,ichiro,契約事務担当者\r\n".encode(),
            update=False,
        ),
    ),
    Case(
        "signin: organisation_signin_update",
        (),
        lambda p, a: signin.organisation_signin_update(
            organisation=p.org,
            actor=a,
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
        ),
    ),
    Case(
        "signin: lock_release",
        (),
        lambda p, a: signin.lock_release(staff=p.viewer, actor=a, meta=RequestMeta()),
    ),
    Case(
        "signin: totp_remove of another member",
        (),
        lambda p, a: signin.totp_remove(staff=p.mayor, actor=a, meta=RequestMeta()),
    ),
]


@pytest.mark.parametrize("case", ADMIN_CASES, ids=str)
def test_administration_is_refused_to_non_admins_and_other_organisations(personas, case):
    actors = {
        "sender": personas.sender,
        "viewer": personas.viewer,
        "admin of another organisation": personas.outsider,
    }
    before = snapshot()
    for who, actor in actors.items():
        with pytest.raises(NotAllowed):
            case.call(personas, actor)
        assert snapshot() == before, who


@pytest.mark.parametrize("case", ADMIN_CASES, ids=str)
def test_administration_is_allowed_to_the_organisations_admin(personas, case):
    events = Event.objects.count()
    case.call(personas, personas.admin)
    assert Event.objects.count() > events


def test_organisations_are_added_by_the_operator_or_by_keiyaku_itself(personas):
    before = snapshot()
    with pytest.raises(NotAllowed):
        accounts.organisation_create_with_admin(
            name="隣町",
            slug="next-town",
            admin_username="next-admin",
            admin_name="隣町 管理",
            admin_email="admin@next-town.example.jp",
            actor=personas.admin,
        )
    assert snapshot() == before
    operator = Staff.objects.create_superuser(
        username="operator", email="ops@keiyaku.example.jp", password=personas.password
    )
    town, admin = accounts.organisation_create_with_admin(
        name="隣町",
        slug="next-town",
        admin_username="next-admin",
        admin_name="隣町 管理",
        admin_email="admin@next-town.example.jp",
        actor=operator,
    )
    assert admin.organisation == town and admin.has_role(Role.ADMIN)
    assert accounts.organisation_create(name="遠い村", slug="far-village").slug == "far-village"
