"""Acceptance 3 of the core: bad uploads are refused with a message and store nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku.contracts.models import Contract, Document
from keiyaku.storage.models import Blob
from tests import pdfs

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def post(client: Client, *files: tuple[str, bytes]):
    return client.post(
        "/contracts/new/",
        {
            "title": "物品購入契約",
            "files": [SimpleUploadedFile(name, data, "application/pdf") for name, data in files],
        },
    )


@pytest.fixture
def sender_client(personas) -> Client:
    client = Client()
    client.force_login(personas.sender)
    return client


def test_good_upload_creates_a_draft(sender_client):
    response = post(sender_client, ("契約書.pdf", pdfs.make_pdf(pages=2)))
    assert response.status_code == 302
    contract = Contract.objects.get()
    assert contract.status == "draft" and contract.documents.get().page_count == 2


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("写真.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 2000)], "PDFファイルではありません"),
        ([("壊れた.pdf", pdfs.truncated_pdf())], "壊れて"),
        ([("暗号化.pdf", pdfs.make_encrypted_pdf())], "パスワード"),
        ([("大きい.pdf", pdfs.make_pdf(pad_bytes=21 * MB))], "20MB"),
        ([("署名済み.pdf", pdfs.make_signed_pdf())], "署名済み"),
        ([(f"{i}.pdf", pdfs.make_pdf()) for i in range(6)], "5件まで"),
    ],
    ids=["not-pdf", "truncated", "encrypted", "21MB", "signed", "sixth-file"],
)
def test_bad_upload_is_refused_and_nothing_is_stored(sender_client, files, message):
    response = post(sender_client, *files)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Contract.objects.count() == 0
    assert Document.objects.count() == 0
    assert Blob.objects.count() == 0


def test_contract_total_over_50mb_is_refused(sender_client):
    big = pdfs.make_pdf(pad_bytes=18 * MB)
    response = post(sender_client, ("a.pdf", big), ("b.pdf", big), ("c.pdf", big))
    assert response.status_code == 400
    assert "50MB" in response.content.decode()
    assert Blob.objects.count() == 0


def test_adding_a_bad_file_to_a_draft_keeps_the_draft(sender_client):
    post(sender_client, ("契約書.pdf", pdfs.make_pdf()))
    contract = Contract.objects.get()
    blobs = Blob.objects.count()
    response = sender_client.post(
        f"/contracts/{contract.pk}/documents/",
        {"file": SimpleUploadedFile("x.pdf", b"not a pdf at all", "application/pdf")},
        follow=True,
    )
    assert "PDFファイルではありません" in response.content.decode()
    assert contract.documents.count() == 1 and Blob.objects.count() == blobs


def test_a_file_name_is_kept_as_the_user_gave_it(sender_client):
    from urllib.parse import unquote

    # Full-width spaces, and が as か + combining voiced mark (as macOS writes names).
    typed = "工事　請負　契約書　か\u3099（第１号）.pdf"
    expected = "工事　請負　契約書　が（第１号）.pdf"
    response = post(sender_client, (typed, pdfs.make_pdf()))
    assert response.status_code == 302
    document = Document.objects.get()
    assert document.filename == expected

    response = sender_client.get(
        f"/contracts/{document.contract_id}/documents/{document.pk}/original.pdf"
    )
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=UTF-8''")
    assert unquote(disposition.split("''", 1)[1]) == expected


def test_the_amount_is_read_as_staff_type_yen(sender_client):
    """One rule for yen typed by staff (`ascii_digits.yen_int`): the create form, the import,
    the search and the surety forms read 「１２，１００，０００円」 alike."""
    data = {
        "title": "物品購入契約",
        "amount": "１２，１００，０００円",
        "files": [SimpleUploadedFile("契約書.pdf", pdfs.make_pdf(), "application/pdf")],
    }
    assert sender_client.post("/contracts/new/", data).status_code == 302
    assert Contract.objects.get().amount == 12_100_000
    data["amount"] = "1200万"
    refused = sender_client.post("/contracts/new/", data)
    assert refused.status_code == 400 and "金額は数字で入力してください" in refused.content.decode()
