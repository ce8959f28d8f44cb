"""Issue 16, acceptance 3: what a token may not reach (R1, R29, R40).

The paths are read from the OpenAPI document, so an endpoint added later is walked too.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from keiyaku.accounts.models import Staff
from keiyaku.addressbook import services as addressbook
from keiyaku.addressbook.models import Company, Contact
from keiyaku.api.models import ApiToken
from keiyaku.api.tokens import api_token_revoke
from keiyaku.api.v1 import api as ninja_api
from keiyaku.contracts.models import Box, Document, Party
from keiyaku.contracts.services import sureties
from keiyaku.contracts.services.boxes import box_create
from keiyaku.contracts.services.drafting import Upload
from keiyaku.contracts.services.templates import template_save
from tests.api.conftest import Api, make_token
from tests.flow import External, draft_contract, last_link
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

PDF_BASE64 = base64.b64encode(make_pdf(text="外部の書類")).decode()


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(schema: dict[str, Any], document: dict[str, Any], name: str = "") -> Any:
    """A value valid under ``schema`` (its required properties only): a body the endpoint
    accepts as well-formed, so that what it answers depends on the object, not the body."""
    schema = _resolve(schema, document)
    if "anyOf" in schema:
        return example(schema["anyOf"][0], document, name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            key: example(schema["properties"][key], document, key)
            for key in schema.get("required", [])
        }
    if kind == "array":
        return [example(schema["items"], document)] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return 1
    if kind == "number":
        return 10.0
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-04-01"
    if schema.get("format") == "binary":
        return make_pdf(text="外部の書類")
    if "enum" in schema:
        return schema["enum"][0]
    return PDF_BASE64 if name == "content_base64" else "外部"


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = ninja_api.get_openapi_schema()
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            found.append((method, path, operation))
    return found


def call(client: Api, method: str, path: str, operation: dict[str, Any]):
    document = ninja_api.get_openapi_schema()
    body = operation.get("requestBody", {}).get("content", {})
    relative = path.removeprefix("/api/v1")
    if "application/json" in body:
        data = example(body["application/json"]["schema"], document)
        return getattr(client, method)(relative, data)
    if "multipart/form-data" in body:
        form = example(body["multipart/form-data"]["schema"], document)
        from django.core.files.uploadedfile import SimpleUploadedFile

        fields = {}
        for name, value in form.items():
            if isinstance(value, bytes):
                fields[name] = SimpleUploadedFile("a.pdf", value, "application/pdf")
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                fields[name] = [SimpleUploadedFile("a.pdf", v, "application/pdf") for v in value]
            else:
                fields[name] = value if name != "metadata" else '{"title": "外部"}'
        return client.client.post(f"/api/v1{relative}", fields)
    return getattr(client, method)(relative)


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


@pytest.fixture
def other_contract(personas):
    """A draft of the other town, with a party, a document and a box."""
    contract = draft_contract(
        personas.outsider, externals=[External("株式会社よそ", "外山", "s@y.jp")]
    )
    box_create(
        document=contract.documents.get(),
        actor=personas.outsider,
        data={
            "page": 1,
            "x": 10,
            "y": 10,
            "width": 80,
            "height": 20,
            "party": contract.parties.get().pk,
        },
    )
    return contract


def _objects_of(staff, contract) -> dict[str, str]:
    """An object of every kind a path names, of ``staff``'s organisation."""
    attachment = sureties.attachment_add(
        contract=contract, actor=staff, upload=Upload("a.pdf", make_pdf(text="添付"))
    )
    surety = sureties.surety_add(
        contract=contract,
        actor=staff,
        values=sureties.SuretyValues(kind="other", issuer="保証会社", number="Y-1", auth_key="K"),
    )
    company = addressbook.company_create(actor=staff, name="株式会社よその取引先")
    contact = addressbook.contact_create(
        company=company, actor=staff, name="外山", email="toyama@y.example.jp"
    )
    template = template_save(contract=contract, actor=staff, name="よその型")
    box = Box.objects.filter(document__contract=contract).first()
    if box is None and type(contract).objects.get(pk=contract.pk).is_editable:
        box = box_create(
            document=Document.objects.get(contract=contract),
            actor=staff,
            data={
                "page": 1,
                "x": 10,
                "y": 10,
                "width": 80,
                "height": 20,
                "party": Party.objects.filter(contract=contract).first().pk,
            },
        )
    return {
        "contract_id": str(contract.pk),
        "document_id": str(Document.objects.get(contract=contract).pk),
        "party_id": str(Party.objects.get(contract=contract).pk),
        "box_id": str(box.pk) if box is not None else "0",  # a sent contract's: none
        "which": "original",
        "attachment_id": str(attachment.pk),
        "surety_id": str(surety.pk),
        "company_id": str(company.pk),
        "contact_id": str(contact.pk),
        "template_id": str(template.pk),
        "staff_id": str(staff.pk),
    }


def test_a_token_gets_404_for_every_object_of_another_organisation(personas, other_contract):
    token = Api(make_token(personas.admin, scope="admin").secret)
    values = _objects_of(personas.outsider, other_contract)
    walked = 0
    for method, path, operation in operations():
        if "{" not in path:
            continue  # collections: the token's own organisation's
        response = call(token, method, fill(path, values), operation)
        assert response.status_code == 404, (method, path, response.content[:300])
        assert response.json()["code"] == "not_found"
        walked += 1
    assert walked >= 30
    other_contract.refresh_from_db()
    assert other_contract.is_editable and other_contract.title != "外部"
    assert other_contract.attachments.current().count() == 1
    assert other_contract.sureties.current().get().number == "Y-1"
    assert Company.objects.get(pk=values["company_id"]).name == "株式会社よその取引先"
    assert Contact.objects.filter(pk=values["contact_id"]).exists()
    assert Staff.objects.get(pk=values["staff_id"]).is_active
    listed = token.get("/contracts").json()["items"]
    assert str(other_contract.pk) not in {item["id"] for item in listed}


def test_a_read_token_cannot_write(personas):
    contract = draft_contract(personas.sender)
    reader = Api(make_token(personas.admin, scope="read").secret)
    assert reader.get(f"/contracts/{contract.pk}").status_code == 200
    for method, path, operation in operations():
        if method == "get":
            continue
        response = call(
            reader,
            method,
            fill(
                path,
                {
                    "contract_id": str(contract.pk),
                    "which": "original",
                    **dict.fromkeys(
                        (
                            "document_id",
                            "party_id",
                            "box_id",
                            "attachment_id",
                            "surety_id",
                            "company_id",
                            "contact_id",
                            "template_id",
                            "staff_id",
                        ),
                        "1",
                    ),
                },
            ),
            operation,
        )
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "scope"
    contract.refresh_from_db()
    assert contract.is_editable and contract.parties.count() == 0


def test_a_revoked_expired_or_unknown_token_gets_401(personas):
    made = make_token(personas.admin, scope="read")
    client = Api(made.secret)
    assert client.get("/contracts").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        expired = client.get("/contracts")
    assert expired.status_code == 401 and expired.json()["code"] == "token_expired"
    api_token_revoke(actor=personas.admin, token_id=made.token.pk)
    revoked = client.get("/contracts")
    assert revoked.status_code == 401 and revoked.json()["code"] == "token_revoked"
    assert revoked["WWW-Authenticate"].startswith("Bearer")
    unknown = Api(made.secret[:-2] + "xx").get("/contracts")
    assert unknown.status_code == 401 and unknown.json()["code"] == "token_invalid"
    none = Api("").get("/contracts")
    assert none.status_code == 401 and none.json()["code"] == "token_missing"


def test_a_token_whose_member_left_gets_401(personas):
    made = make_token(personas.admin, scope="read", staff=personas.sender, wide=False)
    personas.sender.is_active = False
    personas.sender.save()
    refused = Api(made.secret).get("/contracts")
    assert refused.status_code == 401 and refused.json()["code"] == "token_inactive"


def test_a_call_from_outside_the_ip_allow_list_gets_403(personas):
    personas.org.ip_allowlist = "192.0.2.0/24"
    personas.org.save()
    client = Api(make_token(personas.admin, scope="read").secret)
    refused = client.get("/contracts", REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "ip_not_allowed",
        "message": refused.json()["message"],
        "field": None,
    }
    assert "198.51.100.7" in refused.json()["message"]
    assert client.get("/contracts", REMOTE_ADDR="192.0.2.10").status_code == 200


def test_no_response_contains_a_signing_link_token_or_access_code(
    personas, django_capture_on_commit_callbacks
):
    contract = draft_contract(
        personas.sender,
        externals=[External("株式会社A", "山田 太郎", "yamada@a.example.jp", code="Zq-7391-Xw")],
    )
    client = Api(make_token(personas.admin, scope="admin").secret)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/contracts/{contract.pk}/send", {})
    assert sent.status_code == 200, sent.content
    link = last_link("yamada@a.example.jp")  # the path e-mailed to the party: /s/<token>/
    secret = link.strip("/").split("/")[-1]
    assert len(secret) >= 20
    with django_capture_on_commit_callbacks(execute=True):
        reminded = client.post(f"/contracts/{contract.pk}/remind")
    assert reminded.status_code == 200
    secrets = {secret, last_link("yamada@a.example.jp").strip("/").split("/")[-1]}
    party = Party.objects.get(contract=contract)
    document = Document.objects.get(contract=contract)
    values = {
        **_objects_of(personas.sender, contract),
        "document_id": str(document.pk),
        "party_id": str(party.pk),
        "which": "current",
        "staff_id": str(personas.admin.pk),
    }
    bodies = [sent.content, reminded.content]
    for method, path, operation in operations():
        if method == "get":
            bodies.append(call(client, method, fill(path, values), operation).content)
    bodies.append(client.get(f"/contracts/{contract.pk}/documents/{document.pk}/original").content)
    for body in bodies:
        for found in secrets:
            assert found.encode() not in body
        assert party.access_code.encode() not in body
        assert b"Zq-7391-Xw" not in body
        assert b"access_code" not in body
    assert ApiToken.objects.count() == 1
