"""Corpus kinds of fonts a PDF names but does not embed, and text that draws nothing.

Office suites and older PDF writers reference the Japanese fonts of the PC they ran on
("MS-Mincho", "MS-Gothic") without embedding them, as a Type 0 font with the predefined CMap
UniJIS-UCS2-H over an Adobe-Japan1 CIDFont (PDF 32000-1 §9.7). A viewer must substitute a font,
and keiyaku draws these with the IPAex Mincho / Gothic it ships (issue 10, finding 3). Text that
no shipped font can draw (Korean Hangul, a Type 3 font whose glyph procedures are empty) must be
refused at upload, since the party would agree to a page without it.

The fonts here are written by hand with pikepdf: no third party's file.
"""

from __future__ import annotations

import io

import pikepdf

from tests.pdf_corpus import kind

A4 = (595.28, 841.89)
LINES = (
    "工事請負契約書",
    "第1条（目的）発注者及び受注者は、頭書の工事の請負契約を締結する。",
    "第2条（請負代金）請負代金額は、金1,234,567円とする。",
    "発注者 東京都千代田区千代田1-1 テスト市長",
)
TEXT_TOP = 760.0
"""Baseline of the first line (PDF points from the bottom); the lines go down from here."""
LINE_STEP = 30.0
FONT_SIZE = 14.0
TEXT_LEFT = 60.0

_SERIF, _NONSYMBOLIC = 1 << 1, 1 << 5  # FontDescriptor /Flags bits (PDF 32000-1 Table 121)


def cjk_font(
    pdf: pikepdf.Pdf,
    base_font: str,
    *,
    cid_subtype: str = "/CIDFontType2",
    ordering: str = "Japan1",
    cmap: str = "UniJIS-UCS2-H",
    serif: bool = False,
) -> pikepdf.Object:
    """A Type 0 font over a CIDFont that is NOT embedded (no /FontFile* in its descriptor)."""
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor,
        FontName=pikepdf.Name("/" + base_font),
        Flags=_NONSYMBOLIC | (_SERIF if serif else 0),
        FontBBox=[0, -141, 1000, 859],
        ItalicAngle=0,
        Ascent=859,
        Descent=-141,
        CapHeight=709,
        StemV=80,
    )
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name(cid_subtype),
        BaseFont=pikepdf.Name("/" + base_font),
        CIDSystemInfo=pikepdf.Dictionary(
            Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String(ordering), Supplement=2
        ),
        FontDescriptor=pdf.make_indirect(descriptor),
        DW=1000,
    )
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type0,
            BaseFont=pikepdf.Name("/" + base_font),
            Encoding=pikepdf.Name("/" + cmap),
            DescendantFonts=[pdf.make_indirect(cid_font)],
        )
    )


def type3_font_without_glyphs(pdf: pikepdf.Pdf, codes: bytes) -> pikepdf.Object:
    """A Type 3 font whose glyph procedures only declare their box (d1) and draw nothing."""
    differences: list[object] = []
    procs = pikepdf.Dictionary()
    for code in sorted(set(codes)):
        name = f"/g{code}"
        differences += [code, pikepdf.Name(name)]
        procs[name] = pdf.make_stream(b"600 0 0 0 500 700 d1")
    first, last = min(codes), max(codes)
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type3,
            FontBBox=[0, 0, 500, 700],
            FontMatrix=[0.001, 0, 0, 0.001, 0, 0],
            CharProcs=procs,
            Encoding=pikepdf.Dictionary(Type=pikepdf.Name.Encoding, Differences=differences),
            FirstChar=first,
            LastChar=last,
            Widths=[600] * (last - first + 1),
        )
    )


def page_with_text(
    *,
    lines: tuple[str, ...] = LINES,
    base_font: str = "MS-Mincho",
    render_mode: int = 0,
    **font_options: object,
) -> bytes:
    """One A4 page showing ``lines`` in a non-embedded CJK font (``cjk_font`` options).

    The strings are UTF-16BE codes, which is what UniJIS-UCS2-H / UniKS-UCS2-H expect. With no
    lines the page has the same font resources and an empty text object (the blank reference).
    """
    pdf = pikepdf.new()
    font = cjk_font(pdf, base_font, **font_options)  # type: ignore[arg-type]
    ops = [f"BT {render_mode} Tr /F1 {FONT_SIZE:g} Tf {TEXT_LEFT:g} {TEXT_TOP:g} Td"]
    for number, line in enumerate(lines):
        if number:
            ops.append(f"0 {-LINE_STEP:g} Td")
        ops.append(f"<{line.encode('utf-16-be').hex()}> Tj")
    ops.append("ET")
    return _one_page(pdf, font, " ".join(ops).encode())


def _one_page(pdf: pikepdf.Pdf, font: pikepdf.Object, content: bytes) -> bytes:
    page = pdf.add_blank_page(page_size=A4)
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pdf.make_stream(content)
    pdf.docinfo["/Title"] = "font corpus"
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


@kind(
    "font_not_embedded_mincho",
    about="Japanese text in a Type 0 font 'MS-Mincho' (UniJIS-UCS2-H, CIDFontType2, "
    "Adobe-Japan1), not embedded: drawn with the shipped IPAex Mincho (finding 3)",
)
def font_not_embedded_mincho() -> bytes:
    return page_with_text(base_font="MS-Mincho", cid_subtype="/CIDFontType2", serif=True)


@kind(
    "font_not_embedded_gothic",
    about="Japanese text in a Type 0 font 'MS-Gothic' (UniJIS-UCS2-H, CIDFontType0, "
    "Adobe-Japan1), not embedded: drawn with the shipped IPAex Gothic (finding 3)",
)
def font_not_embedded_gothic() -> bytes:
    return page_with_text(base_font="MS-Gothic", cid_subtype="/CIDFontType0")


@kind(
    "font_not_embedded_hangul",
    expect="refuse",
    refusal_code="text_not_drawable",
    about="Korean text in a Type 0 font 'Batang' (UniKS-UCS2-H, Adobe-Korea1), not embedded: "
    "no shipped font has Hangul, so the page would show no text (finding 3)",
)
def font_not_embedded_hangul() -> bytes:
    return page_with_text(
        lines=("공사 도급 계약서", "제1조 목적"),
        base_font="Batang",
        ordering="Korea1",
        cmap="UniKS-UCS2-H",
        serif=True,
    )


@kind(
    "font_type3_without_glyphs",
    expect="refuse",
    refusal_code="text_not_drawable",
    about="Latin text in a Type 3 font whose glyph procedures draw nothing: extracted text, "
    "blank page (finding 3)",
)
def font_type3_without_glyphs() -> bytes:
    text = b"Construction contract, article 1"
    pdf = pikepdf.new()
    font = type3_font_without_glyphs(pdf, text)
    content = b"BT /F1 14 Tf 60 760 Td (" + text + b") Tj ET"
    return _one_page(pdf, font, content)


@kind(
    "font_not_embedded_invisible_ocr",
    about="A Hangul OCR layer in render mode 3 (invisible) in a font nothing can draw: "
    "invisible text is not required to be drawn, the page is accepted (finding 3)",
)
def font_not_embedded_invisible_ocr() -> bytes:
    return page_with_text(
        lines=("공사 도급 계약서",),
        base_font="Batang",
        ordering="Korea1",
        cmap="UniKS-UCS2-H",
        render_mode=3,
    )
