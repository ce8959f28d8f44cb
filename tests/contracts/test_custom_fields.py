"""Custom fields (issue 15): defined by admins, filled in at creation, shown, copied, searched."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku.contracts.custom_fields import CustomCondition, custom_values_store
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.list_page import contract_list_page
from keiyaku.contracts.models import Contract, CustomField, CustomFieldKind, CustomValue
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.services import duplicate
from keiyaku.contracts.services.custom_fields import custom_field_retire, custom_field_save
from keiyaku.refusals import NotAllowed
from tests import pdfs
from tests.contract_copies import copies
from tests.flow import External, draft_contract

pytestmark = pytest.mark.django_db

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")


@pytest.fixture
def fields(personas) -> dict[str, CustomField]:
    admin = personas.admin

    def add(label, kind, choices=(), required=False):
        return custom_field_save(
            actor=admin,
            field_id=None,
            label=label,
            kind=kind,
            choices=list(choices),
            required=required,
        )

    return {
        "budget": add("予算科目", CustomFieldKind.TEXT),
        "days": add("工期（日）", CustomFieldKind.NUMBER),
        "inspection": add("検査日", CustomFieldKind.DATE),
        "method": add(
            "入札方式", CustomFieldKind.CHOICE, ["一般競争入札", "指名競争入札", "随意契約"]
        ),
    }


def _client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _create(client: Client, fields, **values: str):
    data = {
        "title": "道路補修工事",
        "files": [SimpleUploadedFile("契約書.pdf", pdfs.make_pdf(), "application/pdf")],
    }
    for key, value in values.items():
        data[f"custom_{fields[key].pk}"] = value
    return client.post("/contracts/new/", data)


def test_only_admins_define_fields_and_labels_are_unique(personas, fields):
    with pytest.raises(NotAllowed):
        custom_field_save(
            actor=personas.sender, field_id=None, label="x", kind="text", choices=[], required=False
        )
    with pytest.raises(ContractError, match="同じ名前"):
        custom_field_save(
            actor=personas.admin,
            field_id=None,
            label="予算科目",
            kind="text",
            choices=[],
            required=False,
        )
    # A name the import CSV reads as one of its own columns would make that column ambiguous.
    for reserved in ("備考", "ＮＯＴＥ", "取引金額（円）"):
        with pytest.raises(ContractError, match="決まった列名"):
            custom_field_save(
                actor=personas.admin,
                field_id=None,
                label=reserved,
                kind="text",
                choices=[],
                required=False,
            )
    with pytest.raises(ContractError, match="選択肢"):
        custom_field_save(
            actor=personas.admin,
            field_id=None,
            label="区分",
            kind="choice",
            choices=[" ", ""],
            required=False,
        )
    # Another organisation's admin cannot touch them: "not found".
    with pytest.raises(ContractError, match="見つかりません"):
        custom_field_retire(actor=personas.outsider, field_id=fields["days"].pk)


def test_values_are_entered_at_creation_parsed_by_kind_and_shown(personas, fields):
    custom_field_save(
        actor=personas.admin,
        field_id=fields["budget"].pk,
        label="予算科目",
        kind="text",
        choices=[],
        required=True,
    )
    client = _client(personas.sender)
    page = client.get("/contracts/new/").content.decode()
    assert "予算科目" in page and "入札方式" in page and "随意契約" in page
    # A required value missing and a number that is not one: said on the form, nothing stored.
    refused = _create(client, fields, days="三十").content.decode()
    assert "「予算科目」を入力してください" in refused or "このフィールドは必須です" in refused
    refused = _create(client, fields, budget="土木費", days="三十").content.decode()
    assert "「工期（日）」は数値で入力してください" in refused
    assert not Contract.objects.exists()
    made = _create(
        client,
        fields,
        budget="土木費 道路橋りょう費",
        days="１，２０",
        inspection="2026/10/01",
        method="指名競争入札",
    )
    assert made.status_code == 302
    contract = Contract.objects.get()
    values = {v.field.label: v for v in CustomValue.objects.filter(contract=contract)}
    assert values["工期（日）"].number == Decimal("120")
    assert values["検査日"].date == dt.date(2026, 10, 1)
    assert values["入札方式"].text == "指名競争入札"
    detail = client.get(f"/contracts/{contract.pk}/").content.decode()
    assert "予算科目: 土木費 道路橋りょう費" in detail and "工期（日）: 120" in detail
    # A duplicate keeps them.
    copy = duplicate.contract_duplicate(contract=contract, actor=personas.sender)
    assert CustomValue.objects.filter(contract=copy).count() == 4


def test_a_field_with_values_keeps_its_kind_and_a_retired_one_its_values(personas, fields):
    contract = draft_contract(personas.sender, externals=[A])
    custom_values_store(contract, {fields["days"]: Decimal(30)})
    with pytest.raises(ContractError, match="種類は変えられません"):
        custom_field_save(
            actor=personas.admin,
            field_id=fields["days"].pk,
            label="工期（日）",
            kind="date",
            choices=[],
            required=False,
        )
    custom_field_retire(actor=personas.admin, field_id=fields["days"].pk)
    page = _client(personas.sender).get("/contracts/new/").content.decode()
    assert "工期（日）" not in page
    detail = _client(personas.sender).get(f"/contracts/{contract.pk}/").content.decode()
    assert "工期（日）: 30" in detail


def test_search_by_every_kind_alone_and_combined(personas, fields):
    source = draft_contract(personas.sender, externals=[A], title="道路補修工事")
    made = [source, *copies(source, 5)]
    rows = [
        ("土木費 道路橋りょう費", 30, dt.date(2026, 4, 1), "一般競争入札"),
        ("土木費 公園費", 60, dt.date(2026, 6, 30), "指名競争入札"),
        ("教育費 小学校費", 90, dt.date(2026, 9, 1), "随意契約"),
        ("土木費 ｶｾﾝ費", 120, None, "一般競争入札"),
        ("", None, dt.date(2026, 12, 1), ""),
        ("総務費", 7, dt.date(2027, 1, 15), "随意契約"),
    ]
    for contract, (budget, days, inspection, method) in zip(made, rows, strict=True):
        values = {}
        if budget:
            values[fields["budget"]] = budget
        if days is not None:
            values[fields["days"]] = Decimal(days)
        if inspection is not None:
            values[fields["inspection"]] = inspection
        if method:
            values[fields["method"]] = method
        custom_values_store(contract, values)
    ids = [c.pk for c in made]

    def found(*custom, words=""):
        conditions = SearchConditions(words=words, custom=tuple(custom))
        rows = contract_list_page(personas.admin, size=50, search=conditions).rows
        return {row.contract.pk for row in rows}

    budget, days = fields["budget"].pk, fields["days"].pk
    inspection, method = fields["inspection"].pk, fields["method"].pk
    assert found(CustomCondition(budget, "text", text="土木")) == {ids[0], ids[1], ids[3]}
    assert found(CustomCondition(budget, "text", text="道路")) == {ids[0]}
    assert found(CustomCondition(budget, "text", text="カセン")) == {ids[3]}  # half-width kana
    assert found(words="公園費") == {ids[1]}  # the keyword looks in custom fields too
    assert found(CustomCondition(days, "number", low=Decimal(30), high=Decimal(90))) == {
        ids[0],
        ids[1],
        ids[2],
    }
    assert found(CustomCondition(days, "number", low=Decimal(91))) == {ids[3]}
    assert found(
        CustomCondition(inspection, "date", low=dt.date(2026, 6, 30), high=dt.date(2026, 12, 1))
    ) == {ids[1], ids[2], ids[4]}
    assert found(CustomCondition(method, "choice", text="随意契約")) == {ids[2], ids[5]}
    assert found(
        CustomCondition(method, "choice", text="一般競争入札"),
        CustomCondition(days, "number", high=Decimal(60)),
    ) == {ids[0]}
    # The list page's form: the same conditions from the query string, errors in Japanese.
    client = _client(personas.admin)
    page = client.get("/", {f"cf_{days}_min": "６０", f"cf_{method}": "指名競争入札"}).content
    assert str(ids[1]) in page.decode() and str(ids[3]) not in page.decode()
    bad = client.get("/", {f"cf_{inspection}_min": "来月"}).content.decode()
    assert "「検査日」は日付" in bad
    # Another organisation's staff finds nothing, whatever it asks.
    outsider = contract_list_page(
        personas.outsider,
        size=50,
        search=SearchConditions(custom=(CustomCondition(budget, "text", text="土木"),)),
    )
    assert outsider.rows == []


def test_the_admin_page_adds_changes_and_retires_fields(personas, fields):
    admin = _client(personas.admin)
    page = admin.get("/custom-fields/").content.decode()
    assert "予算科目" in page and "選択肢" in page
    added = admin.post("/custom-fields/", {"label": "契約番号（財務）", "kind": "text"})
    assert added.status_code == 302
    assert CustomField.objects.filter(label="契約番号（財務）").exists()
    refused = admin.post("/custom-fields/", {"label": "区分", "kind": "choice", "choices": ""})
    assert refused.status_code == 400 and "選択肢を1つ以上" in refused.content.decode()
    assert admin.post(f"/custom-fields/{fields['method'].pk}/retire/").status_code == 302
    assert not CustomField.objects.get(pk=fields["method"].pk).active
    # Staff who are not admins, and other organisations' admins, get nothing.
    assert _client(personas.sender).get("/custom-fields/").status_code in (403, 404)
    other = _client(personas.outsider)
    assert other.get(f"/custom-fields/{fields['days'].pk}/").status_code in (403, 404)
    assert other.post(f"/custom-fields/{fields['days'].pk}/retire/").status_code in (403, 404)
