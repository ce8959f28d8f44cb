"""R13: a contract's routing saved as a template (roles, not people) and used for a new draft."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Box, ContractTemplate
from keiyaku.contracts.services.boxes import box_create
from tests.contracts.test_routing import FIRMS
from tests.flow import approver, draft_contract

pytestmark = pytest.mark.django_db


def routed(personas):
    contract = draft_contract(personas.sender)
    chief = approver(personas, "chief", "課長 一")
    add = services.party_add
    add(contract=contract, actor=personas.sender, kind="staff", staff=chief, role="approver")
    for index, firm in enumerate(FIRMS[:2]):
        add(
            contract=contract,
            actor=personas.sender,
            kind="external",
            company=firm.company,
            name=firm.name,
            email=firm.email,
            access_code=firm.code,
            parallel=index > 0,
        )
    add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)
    return contract


def shape(contract):
    return [(p.kind, p.role, p.step) for p in contract.parties.order_by("position")]


def test_save_then_apply_through_the_screens(personas):
    source = routed(personas)
    box_create(
        document=source.documents.get(),
        actor=personas.sender,
        data={
            "page": 1,
            "x": 50,
            "y": 600,
            "width": 200,
            "height": 24,
            "kind": "text",
            "label": "代表者名",
            "party": source.parties.get(position=2).pk,
        },
    )
    staff = Client()
    staff.force_login(personas.sender)
    staff.post(f"/contracts/{source.pk}/save-template/", {"name": "工事請負（JV）"})
    template = ContractTemplate.objects.get(name="工事請負（JV）")
    assert [s["kind"] for s in template.routing] == ["staff", "external", "external", "staff"]
    assert "takahashi@example.jp" not in str(template.routing)  # roles, not people

    target = draft_contract(personas.sender, title="令和8年度 舗装工事")
    page = staff.get(f"/contracts/{target.pk}/").content.decode()
    assert "工事請負（JV）" in page
    url = f"/contracts/{target.pk}/apply-template/{template.pk}/"
    form = staff.get(url).content.decode()
    assert "事業者1" in form and "事業者2" in form
    response = staff.post(
        url,
        {
            "slot0-company": "山田建設株式会社",
            "slot0-name": "山田 太郎",
            "slot0-email": "yamada@example.jp",
            "slot0-access_code": "5555",
            "slot1-company": "田中工務店",
            "slot1-name": "田中 花子",
            "slot1-email": "tanaka@example.jp",
            "slot1-access_code": "6666",
        },
    )
    assert response.status_code == 302
    assert shape(target) == shape(source)
    (box,) = Box.objects.filter(document__contract=target)
    assert (box.label, box.party.email, box.x, box.y) == ("代表者名", "yamada@example.jp", 50, 600)
    assert [p.email for p in target.parties.order_by("position")][1:3] == [
        "yamada@example.jp",
        "tanaka@example.jp",
    ]


def test_missing_slot_details_are_asked_again(personas):
    template = services.template_save(contract=routed(personas), actor=personas.sender, name="t")
    target = draft_contract(personas.sender)
    staff = Client()
    staff.force_login(personas.sender)
    response = staff.post(f"/contracts/{target.pk}/apply-template/{template.pk}/", {})
    assert response.status_code == 400 and target.parties.count() == 0


def test_template_only_on_an_empty_draft_and_only_in_its_organisation(personas):
    source = routed(personas)
    template = services.template_save(contract=source, actor=personas.sender, name="t")
    with pytest.raises(ContractError):
        services.template_apply(contract=source, template=template, actor=personas.sender, fills=[])
    with pytest.raises(ContractError, match="同じ名前"):
        services.template_save(contract=source, actor=personas.sender, name="t")
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.get(f"/contracts/{source.pk}/apply-template/{template.pk}/").status_code == 404
    assert "t" not in [
        t.name for t in ContractTemplate.objects.filter(organisation=personas.outsider_org)
    ]
