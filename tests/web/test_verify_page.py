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


def test_unsigned_and_garbage_files_get_a_verdict_not_an_error(db):
    for data in (make_pdf(), b"not a pdf", b""):
        response = upload(data) if data else Client().post("/verify/", {})
        assert response.status_code in (200, 400)
        if data:
            page = response.content.decode()
            assert result(page)["verdict"] == "failed"
            assert GREEN not in page
