"""The certificate of completion (締結証明書, R24) as an A4 PDF.

Pure layout: data in, bytes out. Every string goes through ``require_glyphs`` before it is
drawn, so a character the embedded font lacks raises MissingGlyphError instead of printing a
blank box. Times are shown in JST.
"""

from __future__ import annotations

import datetime as dt
import io
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


@dataclass(frozen=True)
class CertificateDocument:
    name: str
    sha256: str
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
    final_sha256: str | None
    """Hex SHA-256 of the signed PDF, or None when it is not known yet."""
    documents: Sequence[CertificateDocument]
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
        ("締結済み文書のハッシュ値\n(SHA-256)", data.final_sha256 or "（未確定）"),
    ]
    table = Table(
        [[_para(k, styles.label), _para(v, styles.cell)] for k, v in rows],
        colWidths=[45 * mm, _WIDTH - 45 * mm],
    )
    table.setStyle(TableStyle([*_grid(styles), ("BACKGROUND", (0, 0), (0, -1), _HEADER_FILL)]))
    return table


def _documents_table(documents: Sequence[CertificateDocument], styles: _Styles) -> Table:
    header = [
        _para(h, styles.label) for h in ("No.", "ファイル名", "ページ数", "ハッシュ値 (SHA-256)")
    ]
    rows = [
        [
            _para(str(number), styles.cell),
            _para(document.name, styles.cell),
            _para(str(document.pages), styles.cell),
            _para(document.sha256, styles.hash),
        ]
        for number, document in enumerate(documents, start=1)
    ]
    table = Table(
        [header, *rows],
        colWidths=[10 * mm, 50 * mm, 16 * mm, _WIDTH - 76 * mm],
        repeatRows=1,
    )
    table.setStyle(TableStyle([*_grid(styles), ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL)]))
    return table


def _renewals_table(renewals: Sequence[CertificateRenewal], styles: _Styles) -> Table:
    header = [_para(h, styles.label) for h in ("日時", "文書", "時刻認証局", "理由")]
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


def _party_table(party: CertificateParty, styles: _Styles) -> Table:
    """One block per party, label/value pairs, wide enough that e-mail and IPv6 rarely wrap."""

    def cell(value: str) -> Paragraph:
        return _para(value, styles.cell)

    def label(value: str) -> Paragraph:
        return _para(value, styles.label)

    rows: list[list[Any]] = [
        [cell(f"{party.order}\n{party.role}"), label("会社名"), cell(party.company), "", ""],
        ["", label("氏名"), cell(party.name), label("メールアドレス"), cell(party.email)],
        ["", label("合意日時"), cell(_when(party.agreed_at)), label("IPアドレス"), cell(party.ip)],
        ["", label("認証方法"), cell(party.method), "", ""],
    ]
    if party.user_agent:
        rows.append(["", label("端末"), _para(party.user_agent, styles.small), "", ""])
    last = len(rows) - 1
    style = [
        *_grid(styles),
        ("SPAN", (0, 0), (0, last)),
        ("SPAN", (2, 0), (4, 0)),
        ("SPAN", (2, 3), (4, 3)),
        ("BACKGROUND", (0, 0), (0, last), _HEADER_FILL),
        ("BACKGROUND", (1, 0), (1, last), _LABEL_FILL),
        ("BACKGROUND", (3, 1), (3, 2), _LABEL_FILL),
    ]
    if party.user_agent:
        style.append(("SPAN", (2, 4), (4, 4)))
    return Table(
        rows,
        colWidths=[16 * mm, 20 * mm, 46 * mm, 26 * mm, _WIDTH - 108 * mm],
        style=TableStyle(style),
    )


def _consent_table(consent: CertificateConsent, styles: _Styles) -> Table:
    def cell(value: str) -> Paragraph:
        return _para(value, styles.cell)

    def label(value: str) -> Paragraph:
        return _para(value, styles.label)

    rows: list[list[Any]] = [
        [label("会社名"), cell(consent.company), "", ""],
        [label("氏名"), cell(consent.name), label("メールアドレス"), cell(consent.email)],
        [
            label("承諾日時"),
            cell(_when(consent.consented_at)),
            label("IPアドレス"),
            cell(consent.ip),
        ],
        [label("承諾内容"), cell(consent.statement), "", ""],
    ]
    if consent.user_agent:
        rows.append([label("端末"), _para(consent.user_agent, styles.small), "", ""])
    style = [
        *_grid(styles),
        ("SPAN", (1, 0), (3, 0)),
        ("SPAN", (1, 3), (3, 3)),
        ("BACKGROUND", (0, 0), (0, -1), _LABEL_FILL),
        ("BACKGROUND", (2, 1), (2, 2), _LABEL_FILL),
    ]
    if consent.user_agent:
        style.append(("SPAN", (1, 4), (3, 4)))
    return Table(
        rows,
        colWidths=[20 * mm, 62 * mm, 26 * mm, _WIDTH - 108 * mm],
        style=TableStyle(style),
    )


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
