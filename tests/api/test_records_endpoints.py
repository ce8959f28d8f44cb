"""The endpoints beyond contracts, documents and parties (R13, R30, R32, R33, R40): import,
attachments and sureties, address book, templates, staff and departments, the monthly
report. Each goes through the service the screen uses; these tests show the API's side of it
(status, shape, who is refused)."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keiyaku.accounts.models import Department, Staff
from keiyaku.addressbook.models import Company
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.models import Attachment, Contract, ContractStatus, Surety
from tests.api.conftest import Api, make_token
from tests.flow import External, draft_contract, mails_to
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")


def pdf64(text: str = "認証キーのお知らせ") -> str:
    return base64.b64encode(make_pdf(text=text)).decode()


def test_import_a_concluded_contract_as_multipart(personas, api):
    made = api.client.post(
        "/api/v1/contracts/import",
        {
            "metadata": '{"title": "平成30年度 庁舎清掃業務委託", "amount": 880000, '
            '"contract_date": "2018-04-01"}',
            "files": [SimpleUploadedFile("紙の契約書.pdf", make_pdf(text="紙の契約書"))],
        },
        HTTP_IDEMPOTENCY_KEY="import-1",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == ContractStatus.COMPLETED and body["parties"] == []
    assert body["documents"][0]["filename"] == "紙の契約書.pdf"
    assert body["documents"][0]["current_kind"] == "imported"
    contract = Contract.objects.get(pk=body["id"])
    assert contract.is_imported
    assert api.get("/contracts", {"q": "庁舎清掃"}).json()["items"][0]["imported"] is True
    not_pdf = api.client.post(
        "/api/v1/contracts/import",
        {"metadata": '{"title": "x"}', "files": [SimpleUploadedFile("a.pdf", b"hello")]},
    )
    assert not_pdf.status_code == 422 and not_pdf.json()["code"]
    elsewhere = api.client.post(
        "/api/v1/contracts/import",
        {
            "metadata": '{"title": "x", "department_id": 999999}',
            "files": [SimpleUploadedFile("a.pdf", make_pdf(text="x"))],
        },
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["field"] == "department_id"
    assert Contract.objects.filter(imported_at__isnull=False).count() == 1


def test_attachments_add_list_download_remove(personas, api):
    contract = draft_contract(personas.sender, externals=[FIRM])
    added = api.post(
        f"/contracts/{contract.pk}/attachments",
        {"filename": "仕様書.pdf", "content_base64": pdf64("仕様書")},
    )
    assert added.status_code == 201, added.content
    attachment = added.json()
    listed = api.get(f"/contracts/{contract.pk}/attachments")
    assert listed.json() == {"items": [attachment], "next_cursor": None}
    assert listed["ETag"]
    download = api.get(f"/contracts/{contract.pk}/attachments/{attachment['id']}/file")
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert download["ETag"] == f'"{attachment["sha256"]}"'
    no_reason = api.post(
        f"/contracts/{contract.pk}/attachments/{attachment['id']}/remove", {"reason": " "}
    )
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    removed = api.post(
        f"/contracts/{contract.pk}/attachments/{attachment['id']}/remove",
        {"reason": "別の案件のファイルでした"},
    )
    assert removed.status_code == 200
    assert api.get(f"/contracts/{contract.pk}/attachments").json()["items"] == []
    assert Attachment.objects.get(pk=attachment["id"]).removed_reason == "別の案件のファイルでした"
    again = api.post(
        f"/contracts/{contract.pk}/attachments/{attachment['id']}/remove", {"reason": "再度"}
    )
    assert again.status_code == 404
    not_pdf = api.post(
        f"/contracts/{contract.pk}/attachments",
        {"filename": "a.pdf", "content_base64": base64.b64encode(b"text").decode()},
    )
    assert not_pdf.status_code == 422 and not_pdf.json()["code"] == "not_pdf"


def test_sureties_with_the_auth_key_as_the_contract_page_shows_it(personas, api):
    contract = draft_contract(personas.sender, externals=[FIRM])
    added = api.post(
        f"/contracts/{contract.pk}/sureties",
        {
            "kind": "advance_payment",
            "issuer": "東日本建設業保証株式会社",
            "number": "R8-0042-001",
            "auth_key": "AK-5521-9083",
            "amount": 4_000_000,
            "notice": {"filename": "お知らせ.pdf", "content_base64": pdf64()},
        },
    )
    assert added.status_code == 201, added.content
    surety = added.json()
    assert surety["auth_key"] == "AK-5521-9083" and surety["notice"]["filename"] == "お知らせ.pdf"
    # The contract's page shows the 認証キー to everyone who may read the contract: so does
    # the API, to a viewer's read token too; the audit log never has it.
    viewer = Api(make_token(personas.admin, scope="read", staff=personas.viewer, wide=False).secret)
    assert personas.viewer.department_id == contract.department_id
    read = viewer.get(f"/contracts/{contract.pk}/sureties").json()["items"]
    assert [s["auth_key"] for s in read] == ["AK-5521-9083"]
    assert not Event.objects.filter(detail__icontains="AK-5521-9083").exists()

    corrected = api.patch(
        f"/contracts/{contract.pk}/sureties/{surety['id']}",
        {"number": "R8-0042-002", "reason": "番号の入力誤り", "corrections_seen": 0},
    )
    assert corrected.status_code == 200, corrected.content
    assert corrected.json()["number"] == "R8-0042-002" and corrected.json()["corrections"] == 1
    assert corrected.json()["auth_key"] == "AK-5521-9083"  # absent: kept
    stale = api.patch(
        f"/contracts/{contract.pk}/sureties/{surety['id']}",
        {"amount": 1, "reason": "金額", "corrections_seen": 0},
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale"
    unchanged = api.patch(
        f"/contracts/{contract.pk}/sureties/{surety['id']}", {"reason": "何も変えない"}
    )
    assert unchanged.status_code == 422 and unchanged.json()["code"] == "no_change"
    removed = api.post(
        f"/contracts/{contract.pk}/sureties/{surety['id']}/remove", {"reason": "登録誤り"}
    )
    assert removed.status_code == 200
    assert api.get(f"/contracts/{contract.pk}/sureties").json()["items"] == []
    assert Surety.objects.get(pk=surety["id"]).removed_reason == "登録誤り"


def test_a_viewers_write_token_is_refused_by_the_services_with_403(personas):
    contract = draft_contract(personas.sender)
    viewer = Api(
        make_token(personas.admin, scope="write", staff=personas.viewer, wide=False).secret
    )
    refused = [
        viewer.post(
            f"/contracts/{contract.pk}/attachments",
            {"filename": "a.pdf", "content_base64": pdf64()},
        ),
        viewer.post(
            f"/contracts/{contract.pk}/sureties",
            {"kind": "other", "issuer": "保証会社", "number": "1"},
        ),
        viewer.post("/address-book/companies", {"name": "株式会社閲覧"}),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "forbidden")] * 3
    assert not Company.objects.exists() and not Attachment.objects.exists()


def test_address_book_companies_and_contacts(personas, api):
    made = api.post(
        "/address-book/companies", {"name": "株式会社髙橋建設", "kana": "タカハシケンセツ"}
    )
    assert made.status_code == 201, made.content
    company = made.json()
    assert company["department"] is None and company["contacts"] == []
    contact = api.post(
        f"/address-book/companies/{company['id']}/contacts",
        {"name": "髙橋 一郎", "email": "takahashi@example.jp", "title": "工事部長"},
    )
    assert contact.status_code == 201, contact.content
    twice = api.post(
        f"/address-book/companies/{company['id']}/contacts",
        {"name": "髙橋", "email": "TAKAHASHI@example.jp"},
    )
    assert twice.status_code == 409 and twice.json()["code"] == "duplicate_contact"
    bad_email = api.post(
        f"/address-book/companies/{company['id']}/contacts", {"name": "x", "email": "x"}
    )
    assert bad_email.status_code == 422 and bad_email.json()["code"] == "email"
    api.post("/address-book/companies", {"name": "清掃サービス株式会社"})
    found = api.get("/address-book/companies", {"q": "工事部長"}).json()["items"]
    assert [c["name"] for c in found] == ["株式会社髙橋建設"]
    first = api.get("/address-book/companies", {"limit": 1}).json()
    second = api.get("/address-book/companies", {"limit": 1, "after": first["next_cursor"]})
    assert len(first["items"]) == 1 and second.json()["next_cursor"] is None
    assert first["items"][0]["id"] != second.json()["items"][0]["id"]
    assert api.get("/address-book/companies", {"after": "x"}).json()["code"] == "bad_cursor"
    changed = api.patch(f"/address-book/companies/{company['id']}", {"note": "指名業者"})
    assert changed.json()["note"] == "指名業者" and changed.json()["kana"] == "タカハシケンセツ"
    contact_id = contact.json()["id"]
    moved = api.patch(f"/address-book/contacts/{contact_id}", {"phone": "011-000-0000"})
    assert moved.json()["phone"] == "011-000-0000" and moved.json()["name"] == "髙橋 一郎"
    assert api.delete(f"/address-book/contacts/{contact_id}").status_code == 204
    assert api.delete(f"/address-book/companies/{company['id']}").status_code == 204
    assert api.get(f"/address-book/companies/{company['id']}").status_code == 404


def test_templates_list_get_and_a_contract_from_one(personas, api):
    model = draft_contract(personas.sender, externals=[FIRM], staff_signers=[personas.mayor])
    saved = services.template_save(contract=model, actor=personas.sender, name="工事請負（市長）")
    listed = api.get("/templates").json()["items"]
    assert [t["name"] for t in listed] == ["工事請負（市長）"]
    template = api.get(f"/templates/{saved.pk}").json()
    assert [(s["kind"], s["label"]) for s in template["steps"]] == [
        ("external", "事業者1"),
        ("staff", "市長 一郎"),
    ]
    draft = draft_contract(personas.sender, title="令和8年度 舗装工事")
    applied = api.post(
        f"/contracts/{draft.pk}/template",
        {
            "template_id": saved.pk,
            "slots": [
                {
                    "company": "株式会社北",
                    "name": "北 次郎",
                    "email": "kita@example.jp",
                    "access_code": "8642",
                }
            ],
        },
    )
    assert applied.status_code == 200, applied.content
    assert [p["name"] for p in applied.json()["parties"]] == ["北 次郎", "市長 一郎"]
    again = api.post(f"/contracts/{draft.pk}/template", {"template_id": saved.pk, "slots": []})
    assert again.status_code == 409 and again.json()["code"] == "not_empty"
    other = draft_contract(personas.sender, title="別の案件")
    missing = api.post(f"/contracts/{other.pk}/template", {"template_id": 999999, "slots": []})
    assert missing.status_code == 404


def test_staff_and_departments_need_an_admin_token(personas, django_capture_on_commit_callbacks):
    admin = Api(make_token(personas.admin, scope="admin").secret)
    writer = Api(make_token(personas.admin, scope="write").secret)
    assert writer.get("/staff").json()["code"] == "scope"
    assert writer.post("/departments", {"name": "水道課"}).status_code == 403
    listed = admin.get("/staff", {"q": "花子"}).json()["items"]
    assert [s["login_id"] for s in listed] == ["sender"]
    assert listed[0]["department"]["name"] == "契約課" and listed[0]["roles"] == ["sender"]

    department = admin.post("/departments", {"name": "水道課"})
    assert department.status_code == 201
    assert admin.post("/departments", {"name": "水道課"}).json()["code"] == "duplicate_department"
    names = {d["name"] for d in admin.get("/departments").json()["items"]}
    assert {"契約課", "土木課", "総務課", "水道課"} <= names

    with django_capture_on_commit_callbacks(execute=True):
        made = admin.post(
            "/staff",
            {
                "login_id": "suido-1",
                "display_name": "水道 三郎",
                "email": "suido@city.example.jp",
                "department_id": department.json()["id"],
                "roles": ["sender"],
            },
        )
    assert made.status_code == 201, made.content
    assert made.json()["is_active"] is True and made.json()["department"]["name"] == "水道課"
    assert mails_to("suido@city.example.jp")  # the link to choose a password
    taken = admin.post(
        "/staff",
        {
            "login_id": "suido-1",
            "display_name": "x",
            "email": "y@city.example.jp",
            "roles": ["viewer"],
        },
    )
    assert taken.status_code == 409 and taken.json()["code"] == "duplicate_login"
    bad_role = admin.post(
        "/staff",
        {"login_id": "z", "display_name": "z", "email": "z@city.example.jp", "roles": ["mayor"]},
    )
    assert bad_role.status_code == 422 and bad_role.json()["field"]

    gone = admin.post(f"/staff/{made.json()['id']}/deactivate")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert not Staff.objects.get(pk=made.json()["id"]).is_active
    last = admin.post(f"/staff/{personas.admin.pk}/deactivate")
    assert last.status_code == 409 and last.json()["code"] == "last_admin"
    assert admin.post(f"/staff/{personas.outsider.pk}/deactivate").status_code == 404
    assert Department.objects.filter(name="水道課").count() == 1


def test_monthly_report_as_json(personas, api):
    draft_contract(personas.sender)
    report = api.get("/reports/monthly", {"first": "2026-01", "last": "2026-03"})
    assert report.status_code == 200, report.content
    body = report.json()
    assert body["months"] == ["2026-01", "2026-02", "2026-03"]
    assert [t["month"] for t in body["totals"]] == body["months"]
    assert set(body["totals"][0]["figures"]) >= {"sent", "concluded", "average_days"}
    assert report["ETag"]
    bad = api.get("/reports/monthly", {"first": "2026-13"})
    assert bad.status_code == 422 and bad.json()["field"] == "first"
    long = api.get("/reports/monthly", {"first": "2020-01", "last": "2026-01"})
    assert long.status_code == 422


def test_null_for_a_field_that_cannot_be_empty_is_a_422_not_a_500(personas, api):
    """Found by schemathesis: ``{"auto_renew": null}`` reached the database as NULL. Every
    PATCH body now refuses null for a field that has no empty value (absent keeps it)."""
    contract = draft_contract(personas.sender, externals=[FIRM])
    for body in ({"auto_renew": None}, {"title": None}, {"allow_forwarding": None}):
        refused = api.patch(f"/contracts/{contract.pk}", body)
        assert refused.status_code == 422, (body, refused.content)
        assert refused.json()["field"] == next(iter(body))
    cleared = api.patch(f"/contracts/{contract.pk}", {"amount": None, "contract_date": None})
    assert cleared.status_code == 200 and cleared.json()["amount"] is None
    party = contract.parties.get()
    assert (
        api.patch(f"/contracts/{contract.pk}/parties/{party.pk}", {"parallel": None}).status_code
        == 422
    )
    company = api.post("/address-book/companies", {"name": "株式会社ヌル"}).json()
    assert api.patch(f"/address-book/companies/{company['id']}", {"name": None}).status_code == 422


def test_a_contract_from_a_template_in_one_call(personas, api):
    """``template`` in the create call sets the routing and boxes as
    ``POST /contracts/{id}/template`` does; a template refused leaves no contract behind."""
    from keiyaku.contracts.services.boxes import box_create

    model = draft_contract(personas.sender, externals=[FIRM], staff_signers=[personas.mayor])
    firm = model.parties.get(company=FIRM.company)
    box_create(
        document=model.documents.get(),
        actor=personas.sender,
        data={
            "page": 1,
            "x": 60,
            "y": 100,
            "width": 160,
            "height": 24,
            "kind": "text",
            "party": firm.pk,
        },
    )
    saved = services.template_save(contract=model, actor=personas.sender, name="工事請負（市長）")
    slot = {"company": "株式会社北", "name": "北 次郎", "email": "kita@example.jp"}
    body = {
        "title": "令和8年度 舗装工事",
        "documents": [{"filename": "契約書.pdf", "content_base64": pdf64()}],
        "template": {"template_id": saved.pk, "slots": [slot | {"access_code": "8642"}]},
    }
    before = Contract.objects.count()

    made = api.post("/contracts", body, HTTP_IDEMPOTENCY_KEY="from-template-1")
    assert made.status_code == 201, made.content
    assert [p["name"] for p in made.json()["parties"]] == ["北 次郎", "市長 一郎"]
    contract = Contract.objects.get(pk=made.json()["id"])
    (box,) = contract.documents.get().boxes.all()
    assert box.party.name == "北 次郎" and (box.x, box.y, box.kind) == (60, 100, "text")
    replay = api.post("/contracts", body, HTTP_IDEMPOTENCY_KEY="from-template-1")
    assert replay.json()["id"] == made.json()["id"]
    assert Contract.objects.count() == before + 1

    short = api.post("/contracts", body | {"template": {"template_id": saved.pk, "slots": []}})
    assert short.status_code == 422 and short.json()["code"] == "slots", short.content
    unknown = api.post("/contracts", body | {"template": {"template_id": 999999, "slots": []}})
    assert unknown.status_code == 404
    other_city = Api(make_token(personas.outsider).secret)
    theirs = other_city.post("/contracts", body)
    assert theirs.status_code == 404
    assert Contract.objects.count() == before + 1


def test_a_template_call_refused_for_a_bad_address_or_a_slot_too_many(personas, api):
    """A slot the template has no place for, or an address that is not one, is refused (422)
    and makes no contract; ``/parties`` refuses such an address as well."""
    model = draft_contract(personas.sender, externals=[FIRM])
    saved = services.template_save(contract=model, actor=personas.sender, name="委託（1社）")
    slot = {"company": "株式会社北", "name": "北 次郎", "email": "kita@example.jp"}
    slot |= {"access_code": "8642"}
    body = {
        "title": "令和8年度 清掃業務",
        "documents": [{"filename": "a.pdf", "content_base64": pdf64()}],
    }
    before = Contract.objects.count()

    for slots, code in (
        ([slot | {"email": "not-an-address"}], "email"),
        ([slot | {"email": "kita@"}], "email"),
        ([slot, slot | {"email": "minami@example.jp"}], "slots"),
    ):
        refused = api.post(
            "/contracts", body | {"template": {"template_id": saved.pk, "slots": slots}}
        )
        assert refused.status_code == 422, refused.content
        assert refused.json()["code"] == code and refused.json()["message"]
        multipart = api.client.post(
            "/api/v1/contracts/multipart",
            {
                "metadata": json.dumps(
                    {"title": "x", "template": {"template_id": saved.pk, "slots": slots}}
                ),
                "files": [SimpleUploadedFile("a.pdf", make_pdf(text="x"))],
            },
        )
        assert multipart.status_code == 422 and multipart.json()["code"] == code
    assert Contract.objects.count() == before

    draft = api.post("/contracts", body).json()
    party = slot | {"kind": "external", "email": "kita@@example.jp"}
    refused = api.post(f"/contracts/{draft['id']}/parties", party)
    assert refused.status_code == 422 and refused.json()["field"] == "email"
    assert not Contract.objects.get(pk=draft["id"]).parties.exists()
