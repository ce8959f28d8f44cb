"""The boxes endpoints of /api/v1 (R8, R40): placed, changed and removed on a draft through
the box services, refused with the field at fault, 409 once sent, 404 for another
organisation's contract or box."""

from __future__ import annotations

import pytest

from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.models import Box
from keiyaku.contracts.services.boxes import box_create
from tests.api.conftest import Api, make_token
from tests.flow import External, approver, draft_contract

pytestmark = pytest.mark.django_db

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
GUARANTOR = External("", "佐藤 保証", "sato@example.jp", "1357")


def place(api: Api, contract, headers=None, **fields):
    document = contract.documents.get()
    party = contract.parties.order_by("position").first()
    box = {
        "document": document.pk,
        "party": party.pk,
        "page": 1,
        "x": 320,
        "y": 700,
        "width": 200,
        "height": 24,
        **fields,
    }
    return api.post(f"/contracts/{contract.pk}/boxes", box, **(headers or {}))


def test_boxes_are_placed_listed_changed_and_removed_on_a_draft(personas, api):
    contract = draft_contract(personas.sender, externals=[FIRM, GUARANTOR])
    firm, guarantor = contract.parties.order_by("position")
    placed = place(api, contract, kind="date", label="契約日")
    assert placed.status_code == 201, placed.content
    box = placed.json()
    assert (box["kind"], box["label"], box["party"], box["required"]) == (
        "date",
        "契約日",
        firm.pk,
        True,
    )
    assert box["value"] == "" and box["filled_at"] is None
    second = place(api, contract, party=guarantor.pk, kind="checkbox", label="同意", x=40, y=40)
    assert second.status_code == 201

    listed = api.get(f"/contracts/{contract.pk}/boxes").json()
    assert [b["id"] for b in listed["boxes"]] == [second.json()["id"], box["id"]]  # page order
    (page,) = listed["pages"]
    assert page["document"] == box["document"] and page["page"] == 1
    assert round(page["width"]) == 595 and round(page["height"]) == 842  # A4 in points

    changed = api.patch(
        f"/contracts/{contract.pk}/boxes/{box['id']}",
        {"kind": "text", "label": "住所", "max_length": 40, "party": guarantor.pk},
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["kind"], changed.json()["max_length"]) == ("text", 40)
    assert changed.json()["party"] == guarantor.pk and changed.json()["x"] == 320
    unlimited = api.patch(f"/contracts/{contract.pk}/boxes/{box['id']}", {"max_length": None})
    assert unlimited.json()["max_length"] is None
    for field in ("party", "page", "x", "kind", "label", "required"):  # no empty value: 422
        refused = api.patch(f"/contracts/{contract.pk}/boxes/{box['id']}", {field: None})
        assert refused.status_code == 422, (field, refused.status_code)

    removed = api.delete(f"/contracts/{contract.pk}/boxes/{box['id']}")
    assert removed.status_code == 204
    assert list(Box.objects.filter(document__contract=contract)) == [
        Box.objects.get(pk=second.json()["id"])
    ]
    events = list(Event.objects.filter(event__startswith="box.").values_list("event", flat=True))
    assert events == ["box.add", "box.add", "box.update", "box.update", "box.delete"]
    assert all(
        e.detail["api_token"].startswith("連携-") for e in Event.objects.filter(event="box.add")
    )


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"page": 2}, 422, "page", "page"),
        ({"x": 500}, 422, "position", "x"),
        ({"y": -1}, 422, "position", "y"),
        ({"width": 4}, 422, "size", "width"),
        ({"label": "改行\nあり"}, 422, "control_character", "label"),
        ({"max_length": 0}, 422, "max_length", "max_length"),
        ({"kind": "signature"}, 422, "invalid", "kind"),
        ({"x": "左"}, 422, "invalid", "x"),
        ({"page": None}, 422, "invalid", "page"),
    ],
)
def test_a_box_that_cannot_be_placed_is_refused_with_its_field(
    personas, api, fields, status, code, field
):
    contract = draft_contract(personas.sender, externals=[FIRM])
    refused = place(api, contract, **fields)
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (
        status,
        code,
        field,
    ), refused.content
    assert refused.json()["message"]
    assert not Box.objects.exists()


def test_a_box_names_a_signer_and_a_document_of_its_own_contract(personas, api):
    contract = draft_contract(personas.sender, externals=[FIRM])
    other = draft_contract(personas.sender, externals=[GUARANTOR], title="別の案件")
    stranger = other.parties.get()
    refused = place(api, contract, party=stranger.pk)
    assert (refused.status_code, refused.json()["field"]) == (422, "party")
    refused = place(api, contract, document=other.documents.get().pk)
    assert (refused.status_code, refused.json()["field"]) == (422, "document")
    kacho = approver(personas, "kacho", "契約課長")
    services.party_add(
        contract=contract, actor=personas.sender, kind="staff", staff=kacho, role="approver"
    )
    approving = contract.parties.get(staff=kacho)
    refused = place(api, contract, party=approving.pk)
    assert (refused.status_code, refused.json()["code"]) == (422, "party")
    assert "承認者" in refused.json()["message"]
    english = place(api, contract, {"HTTP_ACCEPT_LANGUAGE": "en"}, party=approving.pk)
    assert english.json()["message"].isascii()
    assert not Box.objects.exists()


def test_boxes_are_fixed_once_sent(personas, api, django_capture_on_commit_callbacks):
    contract = draft_contract(personas.sender, externals=[FIRM])
    box = place(api, contract).json()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/contracts/{contract.pk}/send").status_code == 200
    for answer in (
        place(api, contract),
        api.patch(f"/contracts/{contract.pk}/boxes/{box['id']}", {"x": 10}),
        api.delete(f"/contracts/{contract.pk}/boxes/{box['id']}"),
    ):
        assert (answer.status_code, answer.json()["code"]) == (409, "not_draft")
    assert api.get(f"/contracts/{contract.pk}/boxes").json()["boxes"][0]["x"] == 320


def test_another_organisations_contract_and_boxes_are_404(personas, api):
    theirs = draft_contract(personas.outsider, externals=[FIRM])
    box = box_create(
        document=theirs.documents.get(),
        actor=personas.outsider,
        data={
            "page": 1,
            "x": 10,
            "y": 10,
            "width": 80,
            "height": 20,
            "party": theirs.parties.get().pk,
        },
    )
    mine = draft_contract(personas.sender, externals=[GUARANTOR])
    for answer in (
        api.get(f"/contracts/{theirs.pk}/boxes"),
        place(api, theirs),
        api.patch(f"/contracts/{theirs.pk}/boxes/{box.pk}", {"x": 20}),
        api.delete(f"/contracts/{theirs.pk}/boxes/{box.pk}"),
        # Their box through a contract of ours is not ours either.
        api.patch(f"/contracts/{mine.pk}/boxes/{box.pk}", {"x": 20}),
        api.delete(f"/contracts/{mine.pk}/boxes/{box.pk}"),
    ):
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    box.refresh_from_db()
    assert box.x == 10


def test_a_read_token_cannot_place_a_box(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    reader = Api(make_token(personas.admin, scope="read").secret)
    assert reader.get(f"/contracts/{contract.pk}/boxes").status_code == 200
    refused = place(reader, contract)
    assert (refused.status_code, refused.json()["code"]) == (403, "scope")
    assert not Box.objects.exists()
