"""The consent recorded by the online application appears on the 締結証明書 (R14, R24)."""

from __future__ import annotations

import datetime as dt

from keiyaku.contracts.certificate_pdf import (
    CertificateConsent,
    CertificateData,
    CertificateDocument,
    render_certificate,
)
from tests.pdfs import pdffonts, pdftotext

AT = dt.datetime(2026, 4, 1, 1, 56, 22, tzinfo=dt.UTC)
STATEMENT = (
    "建設業法施行令第5条の5の規定に基づき、テスト市から示された電子契約の方法により承諾します。"
)


def _data(consents=()) -> CertificateData:
    return CertificateData(
        certificate_id="ABCDEF0123456789ABCD",
        title="令和8年度 河川護岸工事 請負契約",
        management_number="R8-1",
        organisation="テスト市",
        creator="契約 花子",
        created_at=AT,
        completed_at=AT,
        documents=[CertificateDocument("契約書.pdf", "ab" * 32, "cd" * 32, 1)],
        parties=[],
        consents=consents,
    )


def test_consent_rows_show_who_when_where_and_the_statement():
    consent = CertificateConsent(
        company="株式会社山田土木",
        name="山田 太郎",
        email="taro@yamada.example.jp",
        consented_at=AT,
        ip="2001:db8::23",
        statement=STATEMENT,
        user_agent="Mozilla/5.0 TestBrowser",
    )
    pdf = render_certificate(_data([consent]))
    text = pdftotext(pdf).replace("\n", "")
    assert "電子契約の利用の承諾（建設業法施行令第5条の5）" in text
    for value in ("株式会社山田土木", "山田 太郎", "taro@yamada.example.jp", "2001:db8::23"):
        assert value in text
    assert "2026-04-01 10:56:22 +09:00" in text  # JST
    assert STATEMENT in text
    fonts = pdffonts(pdf)
    assert fonts and all(embedded for _, embedded in fonts)


def test_without_consents_the_section_is_absent():
    assert "電子契約の利用の承諾" not in pdftotext(render_certificate(_data()))
