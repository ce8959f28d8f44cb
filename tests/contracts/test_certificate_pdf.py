import datetime as dt
import re

import pytest

from keiyaku.contracts.certificate_pdf import (
    CertificateData,
    CertificateDocument,
    CertificateParty,
    format_jst,
    format_reiwa,
    render_certificate,
)
from keiyaku.fonts import MissingGlyphError
from keiyaku.signing.render import page_count
from tests.pdfs import pdffonts, pdftotext, qpdf_check

FINAL_SHA = "3f" * 32
DOC_SHA = "a1b2c3d4" * 8
AGREED = dt.datetime(2026, 4, 1, 1, 56, 22, tzinfo=dt.UTC)


def _party(order: int, **overrides) -> CertificateParty:
    values = {
        "order": order,
        "role": "署名者" if order % 2 else "承認者",
        "company": f"株式会社髙橋建設 第{order}営業部",
        "name": f"髙橋 一郎{order}",
        "email": f"ichiro.takahashi{order}@example.co.jp",
        "agreed_at": AGREED + dt.timedelta(minutes=order),
        "ip": f"203.0.113.{order}" if order % 3 else "2001:db8:85a3::8a2e:370:7334",
        "method": "メール認証＋アクセスコード",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0" if order % 2 else "",
    }
    values.update(overrides)
    return CertificateParty(**values)


def _data(parties: int | list[CertificateParty] = 2, **overrides) -> CertificateData:
    values = {
        "certificate_id": "KC-2026-0401-7Q3X",
        "title": "令和8年度 市庁舎空調設備改修工事 請負契約書",
        "management_number": "契-2026-0123",
        "organisation": "〇〇市 総務部 契約課",
        "creator": "山田 花子",
        "created_at": dt.datetime(2026, 3, 30, 0, 0, tzinfo=dt.UTC),
        "completed_at": dt.datetime(2026, 4, 1, 2, 30, tzinfo=dt.UTC),
        "documents": [
            CertificateDocument(
                name="工事請負契約書.pdf",
                signed_sha256=FINAL_SHA,
                original_sha256=DOC_SHA,
                pages=12,
            ),
            CertificateDocument(
                name="別紙 仕様書.pdf", signed_sha256="1" * 64, original_sha256="0" * 64, pages=3
            ),
        ],
        "parties": (
            parties if isinstance(parties, list) else [_party(i) for i in range(1, parties + 1)]
        ),
    }
    values.update(overrides)
    return CertificateData(**values)


def test_seventeen_parties_are_all_on_the_certificate():
    pdf = render_certificate(_data(parties=17))
    assert pdf.startswith(b"%PDF-")
    pages = page_count(pdf)
    assert pages >= 2
    text = pdftotext(pdf)
    assert "締結証明書" in text
    assert "KC-2026-0401-7Q3X" in text
    assert FINAL_SHA in text
    assert DOC_SHA in text
    for order in range(1, 18):
        assert f"髙橋 一郎{order}" in text
        assert f"ichiro.takahashi{order}@example.co.jp" in text
        assert f"株式会社髙橋建設 第{order}営業部" in text
    assert "203.0.113.1" in text
    assert "メール認証＋アクセスコード" in text
    assert "2026-04-01 10:57:22 +09:00" in text
    assert "令和8年4月1日" in text
    assert "Chrome/130.0" in text


def test_every_page_has_a_footer_with_page_number_and_certificate_id():
    pdf = render_certificate(_data(parties=40))
    pages = page_count(pdf)
    assert pages >= 3
    for number in range(1, pages + 1):
        text = pdftotext(pdf, first=number, last=number)
        assert f"{number} / {pages} ページ" in text
        assert "締結証明書ID: KC-2026-0401-7Q3X" in text
    text = pdftotext(pdf)
    assert all(f"髙橋 一郎{order}" in text for order in range(1, 41))


def test_parties_are_listed_in_signing_order():
    parties = [_party(3), _party(1), _party(2)]
    text = pdftotext(render_certificate(_data(parties=parties)))
    positions = [text.index(f"髙橋 一郎{order}") for order in (1, 2, 3)]
    assert positions == sorted(positions)


def test_only_the_embedded_font_is_used():
    pdf = render_certificate(_data(parties=17))
    fonts = pdffonts(pdf)
    assert fonts
    assert all(embedded for _, embedded in fonts)
    assert all(re.fullmatch(r"[A-Z]{6}\+IPAexGothic", name) for name, _ in fonts)


def test_output_passes_qpdf_check():
    check = qpdf_check(render_certificate(_data(parties=17)))
    assert check.returncode == 0
    assert "WARNING" not in check.stdout + check.stderr


def test_long_values_wrap_instead_of_overflowing():
    long_company = "株式会社" + "とても長い名前の建設会社" * 8
    pdf = render_certificate(_data(parties=[_party(1, company=long_company)]))
    text = pdftotext(pdf).replace("\n", "")
    assert long_company in text


@pytest.mark.parametrize("field", ["name", "company", "email", "forwarded_from", "role"])
def test_party_value_the_font_cannot_draw_raises(field):
    bad = _party(1, **{field: "山田\U000f0000"})
    with pytest.raises(MissingGlyphError) as info:
        render_certificate(_data(parties=[bad]))
    assert info.value.characters == {"\U000f0000"}


def test_title_with_emoji_raises():
    with pytest.raises(MissingGlyphError):
        render_certificate(_data(title="契約書😀"))


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        render_certificate(_data(parties=[_party(1, agreed_at=dt.datetime(2026, 4, 1))]))  # noqa: DTZ001


def test_times_are_shown_in_jst():
    assert format_jst(AGREED) == "2026-04-01 10:56:22 +09:00"
    assert (
        format_jst(dt.datetime(2026, 3, 31, 20, 0, tzinfo=dt.UTC)) == "2026-04-01 05:00:00 +09:00"
    )


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC), "令和8年4月1日"),
        (dt.datetime(2019, 5, 1, 0, 0, tzinfo=dt.UTC), "令和元年5月1日"),
        (dt.datetime(2019, 4, 30, 14, 59, tzinfo=dt.UTC), ""),
        (dt.datetime(2019, 4, 30, 15, 0, tzinfo=dt.UTC), "令和元年5月1日"),
    ],
)
def test_reiwa_date(moment, expected):
    assert format_reiwa(moment) == expected


def _lines(pdf: bytes) -> list[str]:
    return [line.replace("\u3000", " ").strip() for line in pdftotext(pdf).splitlines()]


def test_role_label_stays_on_one_line():
    """Issue 14: a 16 mm column printed 「署名者（」 and 「事業者）」 on two lines."""
    parties = [_party(1, role="署名者（事業者）"), _party(2, role="承認者（事前承認）")]
    lines = _lines(render_certificate(_data(parties=parties)))
    assert "1 署名者（事業者）" in lines
    assert "2 承認者（事前承認）" in lines


def test_names_and_companies_wrap_between_words():
    """Issue 14: CJK wrapping broke names and companies anywhere; they now break at spaces."""
    company = (
        "株式会社髙橋建設コンサルタンツ 東日本事業本部 第一営業部 土木設計グループ "
        "道路橋梁設計チーム 第三係 令和八年度市庁舎担当"
    )
    name = "髙橋建設コンサルタンツ株式会社 代表取締役社長執行役員 髙橋 一郎之助"
    pdf = render_certificate(_data(parties=[_party(1, company=company, name=name)]))
    text = "\n".join(_lines(pdf))
    for word in (company + " " + name).split():
        assert word in text, word
    # And they did wrap: neither fits its column on one line.
    assert company not in text and name not in text


def test_a_word_longer_than_its_column_still_wraps_inside():
    email = "a" * 60 + "@example.co.jp"
    text = "".join(_lines(render_certificate(_data(parties=[_party(1, email=email)]))))
    assert email in text


def test_forwarded_party_names_the_forwarder():
    party = _party(1, forwarded_from="株式会社髙橋建設 髙橋 一郎")
    assert "転送元 株式会社髙橋建設 髙橋 一郎 様" in _lines(
        render_certificate(_data(parties=[party]))
    )


def test_every_document_has_its_signed_and_uploaded_hash():
    lines = _lines(render_certificate(_data()))
    at = lines.index("1 工事請負契約書.pdf 12 締結済み文書")
    assert lines[at : at + 4] == [
        "1 工事請負契約書.pdf 12 締結済み文書",
        FINAL_SHA,
        "アップロード時",
        DOC_SHA,
    ]
    assert "2 別紙 仕様書.pdf 3 締結済み文書" in lines
    assert "文書数 2件" in lines
