"""R25: anyone can upload a PDF on the public page and see each signature and the verdict.

The verdict says what was proven: only a document whose every approval keiyaku's own signing
certificate made gets the green heading; nothing else on the page is green for less.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku.signing.keys import get_timestamper
from tests.flow import External, completed_pdf
from tests.pdfs import annotated_later, document_timestamped, make_pdf, make_signed_pdf

pytestmark = pytest.mark.django_db(transaction=True)

SIGNERS = [
    External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111"),
    External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222"),
]
GREEN = "status completed"


@pytest.fixture
def final_pdf(personas) -> bytes:
    return completed_pdf(personas, SIGNERS)


def upload(data: bytes, name: str = "契約書.pdf"):
    return Client().post("/verify/", {"file": SimpleUploadedFile(name, data, "application/pdf")})


def result(page: str) -> dict[str, str]:
    """The data attributes of the verdict card."""
    card = re.search(r'<div class="card verdict[^"]*" id="verify-result"([^>]*)>', page)
    assert card, page
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', card.group(1)))


def row_statuses(page: str) -> list[str]:
    return re.findall(r'<tr data-status="([a-z]+)">', page)


def test_completed_contract_is_signed_by_this_keiyaku_for_its_parties(final_pdf):
    page = upload(final_pdf).content.decode()
    assert result(page) == {
        "ok": "true",
        "verdict": "concluded",
        "parties": "3",
        "long-term": "true",
        "certificate": "false",
    }
    assert "この keiyaku の署名用証明書で 3 者の承認が署名されています" in page
    assert "すべての署名は有効です" in page
    assert row_statuses(page) == ["valid"] * 4
    assert "ドキュメントタイムスタンプ" in page
    assert "髙橋 一郎 様 [takahashi@example.jp] が " in page
    assert "佐藤 次郎 様 [sato@example.jp] が " in page
    assert "市長 一郎 様 [mayor@city.example.jp] が " in page


def test_a_made_up_pdf_with_a_document_timestamp_is_timestamp_only(db):
    stamped = document_timestamped(make_pdf(), timestamper=get_timestamper())
    page = upload(stamped).content.decode()
    assert result(page) == {
        "ok": "false",
        "verdict": "timestamp_only",
        "parties": "0",
        "long-term": "false",
        "certificate": "false",
    }
    assert "タイムスタンプのみ：keiyaku で締結された契約ではありません" in page
    assert "すべての署名は有効です" not in page
    assert GREEN not in page
    assert row_statuses(page) == ["intact"]


def test_a_pdf_signed_by_someone_else_is_not_keiyakus(db):
    page = upload(make_signed_pdf()).content.decode()
    assert result(page)["verdict"] == "other_signer"
    assert "この keiyaku の署名ではありません" in page
    assert "すべての署名は有効です" not in page
    assert GREEN not in page


def test_a_later_incremental_change_fails_with_no_green_line(final_pdf):
    page = upload(annotated_later(final_pdf)).content.decode()
    assert result(page) == {
        "ok": "false",
        "verdict": "failed",
        "parties": "0",
        "long-term": "false",
        "certificate": "false",
    }
    assert "検証に失敗しました" in page
    assert "すべての署名は有効です" not in page
    assert GREEN not in page
    # keiyaku's certified signatures forbid the change; the timestamp holds for its revision.
    assert row_statuses(page) == ["invalid", "invalid", "invalid", "intact"]
    assert "あり（最後の署名の後に変更されています）" in page


def test_changed_bytes_are_reported_broken(final_pdf):
    tampered = final_pdf + b"\n% appended after the last timestamp\n"
    page = upload(tampered).content.decode()
    assert result(page)["verdict"] == "failed"
    assert 'data-ok="false"' in page
    assert GREEN not in page


RAW = ("FORM_FILLING", "LTA_UPDATES", "OTHER", "ENTIRE_FILE", "ANNOTATIONS")


def assert_plain_japanese(page: str) -> None:
    """Issue 14: no pyHanko code and no English error text on the Japanese page."""
    shown = re.sub(r"<[^>]+>", " ", page[page.index("<main") :])  # what a reader sees
    for raw in RAW:
        assert raw not in shown, raw
    for english in ("unreadable PDF", "no signature", "was changed after", "Error", "failed"):
        assert english not in shown, english


def test_each_result_is_explained_in_plain_japanese(final_pdf):
    """Valid, modified after signing, and a certificate of completion, through the page."""
    from keiyaku.contracts.models import CompletionCertificate
    from keiyaku.storage.blobs import blob_get

    valid = upload(final_pdf).content.decode()
    assert_plain_japanese(valid)
    assert "後の署名と入力欄への記入のみ（正常です）" in valid
    assert "なし（これが最後の署名またはタイムスタンプです）" in valid

    changed = upload(annotated_later(final_pdf)).content.decode()
    assert result(changed)["verdict"] == "failed"
    assert_plain_japanese(changed)
    assert "署名の後に、この署名が認めていない変更" in changed

    certificate = blob_get(CompletionCertificate.objects.get().blob)
    page = upload(certificate, "締結証明書.pdf").content.decode()
    assert result(page)["certificate"] == "true" and result(page)["verdict"] == "concluded"
    assert "この keiyaku が発行した締結証明書です" in page
    assert "者の承認が署名されています" not in page
    assert_plain_japanese(page)


def test_an_unsigned_pdf_is_called_unsigned_not_failed(db):
    page = upload(make_pdf()).content.decode()
    assert result(page)["verdict"] == "unsigned"
    assert "このPDFには電子署名がありません" in page
    assert "検証に失敗しました" not in page and "<table" not in page
    assert GREEN not in page
    assert_plain_japanese(page)


def test_a_file_that_is_not_a_pdf_is_called_unreadable(db):
    page = upload(b"not a pdf", "memo.pdf").content.decode()
    assert result(page)["verdict"] == "unreadable"
    assert "PDFファイルとして読み込めませんでした" in page
    assert "検証に失敗しました" not in page and "<table" not in page
    assert GREEN not in page
    assert_plain_japanese(page)


def test_timestamp_only_rows_are_explained(db):
    stamped = document_timestamped(make_pdf(), timestamper=get_timestamper())
    page = upload(stamped).content.decode()
    assert "keiyaku で締結されたことの証明にはなりません" in page
    assert_plain_japanese(page)


def test_the_page_is_english_for_an_english_reader(final_pdf):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(
        "/verify/", {"file": SimpleUploadedFile("a.pdf", make_pdf(), "application/pdf")}
    )
    page = response.content.decode()
    assert "This PDF has no electronic signature" in page
    assert "電子署名がありません" not in page


def test_no_file_is_a_form_error(db):
    assert Client().post("/verify/", {}).status_code in (200, 400)
