"""The certificate of completion (締結証明書, R24) as an A4 PDF.

Pure layout: data in, bytes out. Every string goes through ``require_glyphs`` before it is
drawn, so a character the embedded font lacks raises MissingGlyphError instead of printing a
blank box. Times are shown in JST.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from keiyaku.fonts import register_reportlab_font, require_glyphs

JST = dt.timezone(dt.timedelta(hours=9), "JST")
_REIWA_START = dt.date(2019, 5, 1)


@dataclass(frozen=True)
class CertificateParty:
    order: int
    """Position in the signing order, from 1."""
    role: str
    """「署名者」, 「承認者」 …"""
    company: str
    name: str
    email: str
    agreed_at: dt.datetime
    """When the party agreed; timezone-aware."""
    ip: str
    method: str
    """How the party was authenticated, e.g. 「メール認証＋アクセスコード」."""
    user_agent: str = ""
    forwarded_from: str = ""
    """「会社 氏名」 of the party who forwarded the request to this one, or ""."""


@dataclass(frozen=True)
class CertificateDocument:
    name: str
    signed_sha256: str
    """Hex SHA-256 of the signed PDF as stored: the file a party downloads (締結済み文書)."""
    original_sha256: str
    """Hex SHA-256 of the file as uploaded."""
    pages: int


@dataclass(frozen=True)
class CertificateConsent:
    """A counterparty's consent to contract electronically (建設業法施行令第5条の5, R14)."""

    company: str
    name: str
    email: str
    consented_at: dt.datetime
    """When the online application was submitted; timezone-aware."""
    ip: str
    statement: str
    """The exact text consented to."""
    user_agent: str = ""


@dataclass(frozen=True)
class CertificateRenewal:
    """A document timestamp added after completion, to keep the signatures verifiable (R21)."""

    document: str
    """The file name."""
    stamped_at: dt.datetime
    """The new timestamp's time (genTime); timezone-aware."""
    tsa: str
    """The time-stamp authority, as its certificate names it."""
    reason: str
    """Why: 「時刻認証局の証明書の期限」 (with the date) or 「暗号アルゴリズムの移行」 (with the
    policy entry)."""


@dataclass(frozen=True)
class CertificateData:
    certificate_id: str
    title: str
    management_number: str
    organisation: str
    creator: str
    created_at: dt.datetime
    completed_at: dt.datetime
    documents: Sequence[CertificateDocument]
    """Every document of the contract, in its order; each with its own signed hash (issue 14:
    one hash for the whole contract was known only when it had one document)."""
    parties: Sequence[CertificateParty]
    consents: Sequence[CertificateConsent] = ()
    """Consents recorded by the online application (電子契約利用申出書), if any."""
    renewals: Sequence[CertificateRenewal] = ()
    """Document timestamps added since completion (長期署名の延長, R21), oldest first."""


def format_jst(moment: dt.datetime) -> str:
    """「2026-04-01 10:56:22 +09:00」."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: certificate times must be timezone-aware")
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S +09:00")


def format_reiwa(moment: dt.datetime) -> str:
    """「令和8年4月1日」 (「令和元年」 for 2019), or "" before the Reiwa era."""
    day = moment.astimezone(JST).date()
    if day < _REIWA_START:
        return ""
    year = day.year - 2018
    return f"令和{'元' if year == 1 else year}年{day.month}月{day.day}日"


def render_certificate(data: CertificateData) -> bytes:
    """An A4 PDF: title, contract fields, documents, one row per party, page-numbered footer.

    Raises MissingGlyphError if any string cannot be drawn with the embedded font, and
    ValueError for a naive datetime.
    """
    font = register_reportlab_font()
    styles = _Styles(font)
    story: list[Any] = [
        Paragraph(_text("締結証明書"), styles.title),
        Spacer(1, 3 * mm),
        Paragraph(
            _text("以下の契約が、記載の当事者の合意により電子的に締結されたことを証明します。"),
            styles.body,
        ),
        Spacer(1, 5 * mm),
        _fields_table(data, styles),
        Spacer(1, 6 * mm),
        Paragraph(_text("文書"), styles.heading),
        _documents_table(data.documents, styles),
        Spacer(1, 6 * mm),
        Paragraph(_text("当事者"), styles.heading),
    ]
    for party in sorted(data.parties, key=lambda p: p.order):
        story += [KeepTogether(_party_table(party, styles)), Spacer(1, 2 * mm)]
    if data.consents:
        story += [
            Spacer(1, 4 * mm),
            Paragraph(_text("電子契約の利用の承諾（建設業法施行令第5条の5）"), styles.heading),
        ]
        for consent in data.consents:
            story += [KeepTogether(_consent_table(consent, styles)), Spacer(1, 2 * mm)]
    if data.renewals:
        story += [
            Spacer(1, 4 * mm),
            Paragraph(_text("タイムスタンプの更新（長期署名の延長）"), styles.heading),
            _renewals_table(data.renewals, styles),
        ]
    footer_left = _text(f"締結証明書ID: {data.certificate_id}")
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=_text(f"締結証明書 {data.certificate_id}"),
        author=_text(data.organisation),
        creator="keiyaku",
        lang="ja",
        # Otherwise reportlab lists an unembedded Helvetica as well.
        initialFontName=font,
        initialFontSize=9,
    )
    doc.build(story, canvasmaker=partial(_NumberedCanvas, font=font, footer_left=footer_left))
    return buf.getvalue()


def _text(value: str) -> str:
    return require_glyphs(value)


def _para(value: str, style: ParagraphStyle) -> Paragraph:
    """A wrapping cell; value checked for glyphs and escaped (it is user data)."""
    return Paragraph(escape(_text(value)).replace("\n", "<br/>"), style)


_CELL_PADDING = 12.0
"""A table cell's left plus right padding in reportlab (PDF points)."""


def _words(value: str, style: ParagraphStyle, column: float) -> Paragraph:
    """A cell for a name, company, e-mail address or file name in a column ``column`` PDF
    points wide: it wraps at its spaces (ASCII or full-width), as 「株式会社髙橋建設　第一営業部」
    is read, when every word fits the column; only a word longer than the column is broken
    inside (CJK wrapping, with its line-start rules), since it cannot fit otherwise (issue 14:
    CJK wrapping broke names and companies anywhere).

    Raises MissingGlyphError for a character the embedded font lacks.
    """
    room = column - _CELL_PADDING
    words = [w for line in value.split("\n") for w in re.split(r"[ \u3000]+", line) if w]
    if all(stringWidth(w, style.fontName, style.fontSize) <= room for w in words):
        style = ParagraphStyle(f"{style.name}-words", parent=style, wordWrap=None)
        return Paragraph(escape(_text(value)).replace("\n", "<br/>"), style)
    return _para(value, style)


def _label(value: str, styles: _Styles) -> Paragraph:
    """A short label (「メールアドレス」): never broken inside; its column is made wide enough."""
    return Paragraph(escape(_text(value)).replace("\n", "<br/>"), styles.label_whole)


class _Styles:
    def __init__(self, font: str) -> None:
        self.title = ParagraphStyle(
            "title", fontName=font, fontSize=20, leading=26, alignment=TA_CENTER
        )
        self.heading = ParagraphStyle(
            "heading", fontName=font, fontSize=11, leading=15, spaceAfter=2 * mm
        )
        self.body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)
        # CJK wrapping breaks anywhere, which long e-mail addresses and hashes need.
        self.cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10.5, wordWrap="CJK")
        self.label = ParagraphStyle("label", parent=self.cell, textColor=colors.HexColor("#333333"))
        # Breaks only at spaces: a label has none, so it stays whole.
        self.label_whole = ParagraphStyle("label-whole", parent=self.label, wordWrap=None)
        # 7 pt keeps a 64-digit hex SHA-256 on one line (searchable, easy to compare).
        self.hash = ParagraphStyle("hash", parent=self.cell, fontSize=7)
        self.small = ParagraphStyle(
            "small",
            parent=self.cell,
            fontSize=6.5,
            leading=8.5,
            textColor=colors.HexColor("#555555"),
        )


def _grid(styles: _Styles) -> list[tuple[Any, ...]]:
    return [
        # Tables default to Helvetica (unembedded) even when every cell is a Paragraph.
        ("FONTNAME", (0, 0), (-1, -1), styles.cell.fontName),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]


_HEADER_FILL = colors.HexColor("#E8EEF5")
_LABEL_FILL = colors.HexColor("#F4F6F9")
_WIDTH = A4[0] - 30 * mm


def _fields_table(data: CertificateData, styles: _Styles) -> Table:
    rows = [
        ("締結証明書ID", data.certificate_id),
        ("契約名", data.title),
        ("管理番号", data.management_number or "—"),
        ("組織", data.organisation),
        ("作成者", data.creator),
        ("作成日時", _when(data.created_at)),
        ("締結完了日時", _when(data.completed_at)),
        ("文書数", f"{len(data.documents)}件"),
    ]
    widths = [30 * mm, _WIDTH - 30 * mm]
    table = Table(
        [[_label(k, styles), _words(v, styles.cell, widths[1])] for k, v in rows],
        colWidths=widths,
    )
    table.setStyle(TableStyle([*_grid(styles), ("BACKGROUND", (0, 0), (0, -1), _HEADER_FILL)]))
    return table


def _documents_table(documents: Sequence[CertificateDocument], styles: _Styles) -> Table:
    """One row per document: its name and pages, then the SHA-256 of the signed PDF (the file
    a party downloads, 締結済み文書) and of the file as uploaded, each under its label. The
    hash column holds 64 hex digits on one line at 7 pt (99.5 mm in IPAex Gothic, whose digits
    are proportional), so a hash can be searched for and compared whole."""
    widths = [9 * mm, 45 * mm, 18 * mm, _WIDTH - 72 * mm]
    header = [
        _label("No.", styles),
        _label("ファイル名", styles),
        _label("ページ数", styles),
        _label("ハッシュ値（SHA-256）", styles),
    ]
    rows = [
        [
            _para(str(number), styles.cell),
            _words(document.name, styles.cell, widths[1]),
            _para(str(document.pages), styles.cell),
            Paragraph(
                "<br/>".join(
                    escape(_text(line))
                    for line in (
                        "締結済み文書",
                        document.signed_sha256,
                        "アップロード時",
                        document.original_sha256,
                    )
                ),
                styles.hash,
            ),
        ]
        for number, document in enumerate(documents, start=1)
    ]
    table = Table([header, *rows], colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([*_grid(styles), ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL)]))
    return table


def _renewals_table(renewals: Sequence[CertificateRenewal], styles: _Styles) -> Table:
    header = [_label(h, styles) for h in ("日時", "文書", "時刻認証局", "理由")]
    rows = [
        [
            _para(_when(renewal.stamped_at), styles.cell),
            _para(renewal.document, styles.cell),
            _para(renewal.tsa, styles.cell),
            _para(renewal.reason, styles.cell),
        ]
        for renewal in renewals
    ]
    table = Table(
        [header, *rows],
        colWidths=[38 * mm, 36 * mm, 50 * mm, _WIDTH - 124 * mm],
        repeatRows=1,
    )
    table.setStyle(TableStyle([*_grid(styles), ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL)]))
    return table


_PARTY_WIDTHS = [24 * mm, 66 * mm, 24 * mm, _WIDTH - 114 * mm]
"""Label, value, label, value: each label column holds 「メールアドレス」 (the longest label)
on one line at 8 pt; the value columns share what is left of A4's width."""


def _party_table(party: CertificateParty, styles: _Styles) -> Table:
    """One block per party: a heading band with its order and role across the whole width (a
    narrow column broke 「署名者（事業者）」 in two, issue 14), then label/value rows. Names and
    companies wrap at their spaces (:func:`_words`)."""
    wide = _PARTY_WIDTHS[1] + _PARTY_WIDTHS[2] + _PARTY_WIDTHS[3]

    def value(text: str, width: float = _PARTY_WIDTHS[1]) -> Paragraph:
        return _words(text, styles.cell, width)

    rows: list[list[Any]] = [
        [_label(f"{party.order}　{party.role}", styles), "", "", ""],
        [_label("会社名", styles), value(party.company or "—", wide), "", ""],
        [
            _label("氏名", styles),
            value(party.name),
            _label("メールアドレス", styles),
            value(party.email, _PARTY_WIDTHS[3]),
        ],
        [
            _label("合意日時", styles),
            value(_when(party.agreed_at)),
            _label("IPアドレス", styles),
            value(party.ip or "—", _PARTY_WIDTHS[3]),
        ],
        [_label("認証方法", styles), value(party.method, wide), "", ""],
    ]
    if party.forwarded_from:
        rows.append([_label("転送元", styles), value(f"{party.forwarded_from} 様", wide), "", ""])
    if party.user_agent:
        rows.append([_label("端末", styles), _para(party.user_agent, styles.small), "", ""])
    style: list[tuple[Any, ...]] = [
        *_grid(styles),
        ("SPAN", (0, 0), (3, 0)),
        ("BACKGROUND", (0, 0), (3, 0), _HEADER_FILL),
        ("BACKGROUND", (0, 1), (0, -1), _LABEL_FILL),
        ("BACKGROUND", (2, 2), (2, 3), _LABEL_FILL),
    ]
    for row, cells in enumerate(rows[1:], start=1):
        if cells[2] == "":
            style.append(("SPAN", (1, row), (3, row)))
    return Table(rows, colWidths=_PARTY_WIDTHS, style=TableStyle(style))


def _consent_table(consent: CertificateConsent, styles: _Styles) -> Table:
    widths = _PARTY_WIDTHS
    wide = widths[1] + widths[2] + widths[3]

    def value(text: str, width: float = widths[1]) -> Paragraph:
        return _words(text, styles.cell, width)

    rows: list[list[Any]] = [
        [_label("会社名", styles), value(consent.company or "—", wide), "", ""],
        [
            _label("氏名", styles),
            value(consent.name),
            _label("メールアドレス", styles),
            value(consent.email, widths[3]),
        ],
        [
            _label("承諾日時", styles),
            value(_when(consent.consented_at)),
            _label("IPアドレス", styles),
            value(consent.ip or "—", widths[3]),
        ],
        [_label("承諾内容", styles), _para(consent.statement, styles.cell), "", ""],
    ]
    if consent.user_agent:
        rows.append([_label("端末", styles), _para(consent.user_agent, styles.small), "", ""])
    style = [
        *_grid(styles),
        ("SPAN", (1, 0), (3, 0)),
        ("SPAN", (1, 3), (3, 3)),
        ("BACKGROUND", (0, 0), (0, -1), _LABEL_FILL),
        ("BACKGROUND", (2, 1), (2, 2), _LABEL_FILL),
    ]
    if consent.user_agent:
        style.append(("SPAN", (1, 4), (3, 4)))
    return Table(rows, colWidths=widths, style=TableStyle(style))


def _when(moment: dt.datetime) -> str:
    reiwa = format_reiwa(moment)
    return format_jst(moment) + (f"\n（{reiwa}）" if reiwa else "")


class _NumberedCanvas(canvas.Canvas):
    """Draws 「n / total」 and the certificate ID on every page once the total is known."""

    def __init__(self, *args: Any, font: str, footer_left: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font = font
        self._footer_left = footer_left
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        width, _ = self._pagesize
        self.saveState()
        self.setFont(self._font, 7.5)
        self.setFillColor(colors.HexColor("#444444"))
        self.drawString(15 * mm, 10 * mm, self._footer_left)
        self.drawRightString(width - 15 * mm, 10 * mm, _text(f"{number} / {total} ページ"))
        self.restoreState()
