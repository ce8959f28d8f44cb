"""Each endpoint of /api/v1 through the services it calls (R40)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile

from keiyaku.audit.models import Event
from keiyaku.contracts.models import Contract, CustomField
from tests.api.conftest import Api, make_token
from tests.flow import External, draft_contract
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")


def pdf64(text: str = "請負契約書") -> str:
    return base64.b64encode(make_pdf(text=text)).decode()


def test_openapi_is_3_1_and_the_docs_are_served_locally(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200 and document.json()["openapi"] == "3.1.0"
    assert "bearerAuth" in str(document.json()["components"]) or "BearerToken" in str(
        document.json()["components"]
    )
    docs = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert finders.find("ninja/swagger-ui-bundle.js") is not None  # shipped, served by keiyaku


def test_list_searches_pages_with_cursors_and_writes_jst(personas, api):
    for n in range(3):
        draft_contract(personas.sender, title=f"道路補修 第{n}号")
    draft_contract(personas.sender, title="清掃業務委託")
    first = api.get("/contracts", {"q": "道路補修", "limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert page["items"][0]["last_activity_at"].endswith("+09:00")
    second = api.get("/contracts", {"q": "道路補修", "limit": 2, "after": page["next_cursor"]})
    titles = {i["title"] for i in page["items"]} | {i["title"] for i in second.json()["items"]}
    assert titles == {"道路補修 第0号", "道路補修 第1号", "道路補修 第2号"}
    bad = api.get("/contracts", {"after": "nonsense"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_cursor"
    inverted = api.get("/contracts", {"amount_min": 10, "amount_max": 1})
    assert inverted.status_code == 400 and inverted.json()["field"] == "amount_min"


def test_a_members_token_sees_what_the_member_sees(personas):
    mine = draft_contract(personas.sender, title="契約課の案件")
    theirs = draft_contract(personas.admin, title="総務課の案件")
    client = Api(make_token(personas.admin, scope="read", staff=personas.sender, wide=False).secret)
    listed = {i["id"] for i in client.get("/contracts").json()["items"]}
    assert str(mine.pk) in listed and str(theirs.pk) not in listed
    assert client.get(f"/contracts/{theirs.pk}").status_code == 404


def test_get_has_an_etag_and_answers_304(personas, api):
    contract = draft_contract(personas.sender, externals=[FIRM])
    first = api.get(f"/contracts/{contract.pk}")
    assert first.status_code == 200 and first["ETag"]
    assert first.json()["parties"][0]["name"] == FIRM.name
    again = api.get(f"/contracts/{contract.pk}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_create_json_with_custom_fields_and_multipart(personas, api):
    field = CustomField.objects.create(
        organisation=personas.org, label="予算科目", kind="text", required=True
    )
    missing = api.post(
        "/contracts",
        {"title": "委託契約", "documents": [{"filename": "a.pdf", "content_base64": pdf64()}]},
    )
    assert missing.status_code == 422 and missing.json()["code"] == "custom_required"
    made = api.post(
        "/contracts",
        {
            "title": "委託契約",
            "amount": 1200000,
            "custom_fields": {str(field.pk): "土木費"},
            "documents": [{"filename": "委託契約書.pdf", "content_base64": pdf64()}],
        },
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["custom_fields"] == [{"field_id": field.pk, "label": "予算科目", "value": "土木費"}]
    assert body["documents"][0]["filename"] == "委託契約書.pdf"
    assert body["created_by"]["name"] == personas.admin.label
    created = Event.objects.get(event="contract.create", subject=f"contract:{body['id']}")
    assert created.detail["api_token"].startswith("連携-")
    data = make_pdf(text="別紙")
    multipart = api.client.post(
        "/api/v1/contracts/multipart",
        {
            "metadata": f'{{"title": "別紙付き", "custom_fields": {{"{field.pk}": "総務費"}}}}',
            "files": [SimpleUploadedFile("別紙.pdf", data, "application/pdf")],
        },
    )
    assert multipart.status_code == 201, multipart.content
    assert multipart.json()["documents"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    broken = api.post(
        "/contracts", {"title": "x", "documents": [{"filename": "a.pdf", "content_base64": "%%%"}]}
    )
    assert broken.status_code == 422 and broken.json()["code"] == "bad_base64"


def test_update_before_sending_then_409(personas, api, django_capture_on_commit_callbacks):
    contract = draft_contract(personas.sender, externals=[FIRM])
    changed = api.patch(f"/contracts/{contract.pk}", {"title": "変更後の件名", "amount": 5})
    assert changed.status_code == 200 and changed.json()["title"] == "変更後の件名"
    assert changed.json()["amount"] == 5
    assert Event.objects.filter(event="contract.update").count() == 1
    empty = api.patch(f"/contracts/{contract.pk}", {"title": " "})
    assert empty.status_code == 422 and empty.json()["field"] == "title"
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"/contracts/{contract.pk}/send", {"deadline": "2099-01-01"})
    assert sent.status_code == 422  # too far: the service's deadline rule
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"/contracts/{contract.pk}/send", {})
    assert sent.status_code == 200 and sent.json()["status"] == "in_progress"
    assert sent.json()["deadline"].endswith("+09:00")
    late = api.patch(f"/contracts/{contract.pk}", {"title": "送信後"})
    assert late.status_code == 409 and late.json()["code"] == "not_draft"
    english = api.patch(f"/contracts/{contract.pk}", {"title": "送信後"}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["message"].isascii()


def test_parties_routing(personas, api):
    contract = draft_contract(personas.sender)
    added = api.post(
        f"/contracts/{contract.pk}/parties",
        {
            "kind": "external",
            "company": FIRM.company,
            "name": FIRM.name,
            "email": FIRM.email,
            "access_code": "2468",
        },
    )
    assert added.status_code == 201
    mayor = api.post(
        f"/contracts/{contract.pk}/parties",
        {"kind": "staff", "staff_id": personas.mayor.pk, "parallel": True},
    )
    assert mayor.status_code == 201
    parties = mayor.json()["parties"]
    assert [p["step"] for p in parties] == [1, 1]
    moved = api.patch(
        f"/contracts/{contract.pk}/parties/{parties[1]['id']}", {"move": -1, "parallel": False}
    )
    assert [p["name"] for p in moved.json()["parties"]] == [personas.mayor.label, FIRM.name]
    outsider = api.post(
        f"/contracts/{contract.pk}/parties", {"kind": "staff", "staff_id": personas.outsider.pk}
    )
    assert outsider.status_code == 422 and outsider.json()["code"] == "staff_required"
    removed = api.delete(f"/contracts/{contract.pk}/parties/{parties[1]['id']}")
    assert removed.status_code == 200 and len(removed.json()["parties"]) == 1


def test_documents_upload_and_download(personas, api):
    contract = draft_contract(personas.sender)
    added = api.post(
        f"/contracts/{contract.pk}/documents",
        {"filename": "仕様書.pdf", "content_base64": pdf64("仕様書")},
    )
    assert added.status_code == 201 and len(added.json()["documents"]) == 2
    document = added.json()["documents"][1]
    original = api.get(f"/contracts/{contract.pk}/documents/{document['id']}/original")
    assert original.status_code == 200 and original["Content-Type"] == "application/pdf"
    assert hashlib.sha256(original.content).hexdigest() == document["sha256"]
    assert (
        api.get(
            f"/contracts/{contract.pk}/documents/{document['id']}/original",
            HTTP_IF_NONE_MATCH=original["ETag"],
        ).status_code
        == 304
    )
    current = api.get(f"/contracts/{contract.pk}/documents/{document['id']}/current")
    assert hashlib.sha256(current.content).hexdigest() == document["current_sha256"]
    assert Event.objects.filter(event="document.download").count() == 3
    upload = api.client.post(
        f"/api/v1/contracts/{contract.pk}/documents/multipart",
        {"file": SimpleUploadedFile("図面.pdf", make_pdf(text="図面"), "application/pdf")},
    )
    assert upload.status_code == 201 and len(upload.json()["documents"]) == 3
    removed = api.delete(f"/contracts/{contract.pk}/documents/{document['id']}")
    assert removed.status_code == 200 and len(removed.json()["documents"]) == 2
    not_pdf = api.post(
        f"/contracts/{contract.pk}/documents",
        {"filename": "a.pdf", "content_base64": base64.b64encode(b"hello").decode()},
    )
    assert not_pdf.status_code == 422
    assert api.get(f"/contracts/{contract.pk}/certificate").status_code == 404


def test_duplicate_remind_cancel_and_audit(personas, api, django_capture_on_commit_callbacks):
    contract = draft_contract(personas.sender, externals=[FIRM])
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/contracts/{contract.pk}/send").status_code == 200
        reminded = api.post(f"/contracts/{contract.pk}/remind")
    assert reminded.json() == {"reminded": 1}
    copy = api.post(f"/contracts/{contract.pk}/duplicate", {}, HTTP_IDEMPOTENCY_KEY="dup-1")
    assert copy.status_code == 201 and copy.json()["status"] == "draft"
    again = api.post(f"/contracts/{contract.pk}/duplicate", {}, HTTP_IDEMPOTENCY_KEY="dup-1")
    assert again.json()["id"] == copy.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert Contract.objects.count() == 2
    missing = api.post(f"/contracts/{contract.pk}/cancel", {"reason": ""})
    assert missing.status_code == 422 and missing.json()["code"] == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = api.post(f"/contracts/{contract.pk}/cancel", {"reason": "仕様変更のため"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"/contracts/{contract.pk}/remind").status_code == 409
    audit = api.get(f"/contracts/{contract.pk}/audit", {"limit": 2})
    page = audit.json()
    assert [e["event"] for e in page["items"]] == ["contract.create", "party.add"]
    rest = api.get(f"/contracts/{contract.pk}/audit", {"after": page["next_cursor"]}).json()
    events = [e["event"] for e in rest["items"]]
    assert "contract.send" in events and "contract.cancel" in events
    assert rest["items"][0]["created_at"].endswith("+09:00")
    calls = Event.objects.filter(event="api.call")
    assert calls.count() >= 8 and all(c.detail["api_token"].startswith("連携-") for c in calls)


def test_rate_limit_answers_429_with_retry_after(personas, api, settings):
    settings.KEIYAKU_RATE_API = (2, 60)
    assert api.get("/contracts").status_code == 200
    assert api.get("/contracts").status_code == 200
    limited = api.get("/contracts")
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert limited.json()["code"] == "rate_limited"


@pytest.mark.parametrize("path", ["/api/v1/contracts/multipart", "/api/v1/contracts/import"])
def test_a_multipart_calls_metadata_is_read_as_json_or_refused_naming_it(personas, api, path):
    """Both multipart calls read ``metadata`` one way: text that is not JSON is a 400
    ``bad_json`` naming the field; JSON without a required detail is a 422; no contract."""
    before = Contract.objects.count()

    def send(metadata: str):
        return api.client.post(
            path,
            {
                "metadata": metadata,
                "files": [SimpleUploadedFile("a.pdf", make_pdf(), "application/pdf")],
            },
        )

    not_json = send("{title: 委託契約")
    assert not_json.status_code == 400, not_json.content
    assert (not_json.json()["code"], not_json.json()["field"]) == ("bad_json", "metadata")
    no_title = send('{"note": "件名なし"}')
    assert no_title.status_code == 422, no_title.content
    assert Contract.objects.count() == before
