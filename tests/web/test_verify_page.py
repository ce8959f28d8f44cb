"""R25: anyone can upload a PDF on the public page and see each signature and the verdict."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku.contracts import services
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, draft_contract, last_link
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db(transaction=True)

SIGNERS = [
    External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111"),
    External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222"),
]


@pytest.fixture
def final_pdf(personas) -> bytes:
    contract = draft_contract(personas.sender, externals=SIGNERS, staff_signers=[personas.mayor])
    services.contract_send(contract=contract, actor=personas.sender)
    for signer in SIGNERS:
        agree(Client(), last_link(signer.email), signer.code)
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))
    contract.refresh_from_db()
    assert contract.status == "completed"
    return blob_get(contract.documents.get().current_version().blob)


def upload(data: bytes, name: str = "契約書.pdf"):
    return Client().post("/verify/", {"file": SimpleUploadedFile(name, data, "application/pdf")})


def test_completed_contract_verifies_without_login(final_pdf):
    page = upload(final_pdf).content.decode()
    assert 'data-ok="true"' in page
    assert "すべての署名は有効です" in page
    assert "ドキュメントタイムスタンプ" in page
    assert "髙橋 一郎 様 [takahashi@example.jp] が " in page
    assert "佐藤 次郎 様 [sato@example.jp] が " in page
    assert "市長 一郎 様 [mayor@city.example.jp] が " in page


def test_changed_document_is_reported_broken(final_pdf):
    tampered = final_pdf + b"\n% appended after the last timestamp\n"
    page = upload(tampered).content.decode()
    assert 'data-ok="false"' in page
    assert "検証に失敗した署名があります" in page


def test_unsigned_and_garbage_files_get_a_verdict_not_an_error(db):
    for data in (make_pdf(), b"not a pdf", b""):
        response = upload(data) if data else Client().post("/verify/", {})
        assert response.status_code in (200, 400)
        if data:
            assert 'data-ok="false"' in response.content.decode()
