"""Corpus kinds of file structure and page structure: how the objects are stored (xref, object
streams, incremental updates, encryption, linearisation, stray bytes), how the pages are
described (rotation, offset and oversized boxes, inheritance, mixed sizes, many pages) and the
ordinary extras a city's files carry (forms, annotations, outlines, labels, layers, tags).

These are the 26 kinds of the review of issue 10 (taken from public bug reports of other
signing projects) and the refusals a user must understand. Every file is built here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pikepdf
from reportlab.lib.colors import black, white
from reportlab.lib.pagesizes import A3, A4, landscape, letter
from reportlab.pdfgen import canvas

from keiyaku.fonts import register_reportlab_font
from tests.pdf_corpus import kind
from tests.pdfs import (
    OWNER_PASSWORD,
    USER_PASSWORD,
    annotated_later,
    make_encrypted_pdf,
    make_hybrid_xref_pdf,
    make_owner_password_only_pdf,
    make_pdf,
    make_signed_pdf,
    truncated_pdf,
    with_page_geometry,
)

A4_BOX = [0, 0, 595.28, 841.89]


def _rewrite(data: bytes, change: Callable[[pikepdf.Pdf], None], **save: object) -> bytes:
    """``data`` opened with pikepdf, changed by ``change``, saved with ``save`` options.

    Deterministic unless encrypted (qpdf draws an encrypted file's /ID and salts at random).
    """
    with pikepdf.open(io.BytesIO(data)) as pdf:
        change(pdf)
        out = io.BytesIO()
        pdf.save(out, deterministic_id="encryption" not in save, **save)  # type: ignore[arg-type]
    return out.getvalue()


# How objects are stored -----------------------------------------------------------------------


@kind(
    "hybrid_xref",
    about="PDF 1.5 hybrid-reference file: a classic xref table whose /XRefStm lists the page",
)
def hybrid_xref() -> bytes:
    return make_hybrid_xref_pdf()


@kind(
    "broken_xref_offsets",
    about="every xref table offset wrong by 3 bytes (a file edited by hand or re-encoded)",
)
def broken_xref_offsets() -> bytes:
    data = make_pdf(pages=2)
    start = data.rindex(b"\nxref\n") + 1
    end = data.index(b"trailer", start)

    def shift(match: re.Match[bytes]) -> bytes:
        offset = int(match.group(1))
        return b"%010d 00000 n" % (offset + 3 if offset else 0)

    table = re.sub(rb"(\d{10}) 00000 n", shift, data[start:end])
    return data[:start] + table + data[end:]


@kind(
    "object_streams",
    about="objects in object streams and a cross-reference stream (PDF 1.5 compressed xref)",
)
def object_streams() -> bytes:
    return _rewrite(
        make_pdf(pages=2), lambda pdf: None, object_stream_mode=pikepdf.ObjectStreamMode.generate
    )


@kind(
    "incremental_updates",
    about="two earlier incremental updates (notes added after saving), never signed",
)
def incremental_updates() -> bytes:
    return annotated_later(annotated_later(make_pdf(pages=2)))


@kind("pdf_2_0", about="a PDF 2.0 header and catalog /Version")
def pdf_2_0() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.Version = pikepdf.Name("/2.0")

    return _rewrite(make_pdf(), change, force_version="2.0")


@kind("linearised", about="a linearised ('fast web view') file")
def linearised() -> bytes:
    return _rewrite(make_pdf(pages=3), lambda pdf: None, linearize=True)


@kind(
    "garbage_before_header",
    about="bytes before %PDF- (a mail gateway's or scanner's prefix); offsets count from 0",
)
def garbage_before_header() -> bytes:
    return b"X-Scanner-Job: 0042\r\nContent-Type: application/pdf\r\n\r\n" + make_pdf()


@kind("trailing_garbage", about="bytes after the last %%EOF (padding left by an upload tool)")
def trailing_garbage() -> bytes:
    return make_pdf() + b"\r\n\x00\x00\x00" + b"garbage after the end of file " * 20


# Encryption -----------------------------------------------------------------------------------


@kind(
    "owner_password_rc4",
    about="encrypted with an owner password only, RC4 128-bit (R3): opens without a password",
)
def owner_password_rc4() -> bytes:
    return _rewrite(
        make_pdf(pages=2),
        lambda pdf: None,
        encryption=pikepdf.Encryption(
            user="",
            owner=OWNER_PASSWORD,
            R=3,
            metadata=False,
            aes=False,
            allow=pikepdf.Permissions(modify_other=False, modify_annotation=False),
        ),
    )


@kind(
    "owner_password_aes256",
    about="encrypted with an owner password only, AES-256 (R6): opens without a password",
)
def owner_password_aes256() -> bytes:
    return make_owner_password_only_pdf()


@kind(
    "user_password_aes256",
    about="needs a password to open (AES-256): refused, the user removes the password",
    expect="refuse",
    refusal_code="encrypted",
)
def user_password_aes256() -> bytes:
    return make_encrypted_pdf()


@kind(
    "user_password_rc4",
    about="needs a password to open (RC4 128-bit): refused, the user removes the password",
    expect="refuse",
    refusal_code="encrypted",
)
def user_password_rc4() -> bytes:
    return _rewrite(
        make_pdf(),
        lambda pdf: None,
        encryption=pikepdf.Encryption(
            user=USER_PASSWORD, owner=OWNER_PASSWORD, R=3, metadata=False, aes=False
        ),
    )


# Page geometry --------------------------------------------------------------------------------


def _rotated(angle: int) -> bytes:
    return with_page_geometry(make_pdf(pages=2), rotate=angle)


@kind("rotated_90", about="every page /Rotate 90")
def rotated_90() -> bytes:
    return _rotated(90)


@kind("rotated_180", about="every page /Rotate 180")
def rotated_180() -> bytes:
    return _rotated(180)


@kind("rotated_270", about="every page /Rotate 270")
def rotated_270() -> bytes:
    return _rotated(270)


@kind(
    "offset_boxes",
    about="MediaBox not at the origin ([100 200 695.28 1041.89]), the content moved with it",
)
def offset_boxes() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        for page in pdf.pages:
            page.contents_add(b"q 1 0 0 1 100 200 cm", prepend=True)
            page.contents_add(b"Q")
            page.obj.MediaBox = pikepdf.Array([100, 200, 695.28, 1041.89])

    return _rewrite(make_pdf(pages=2), change)


@kind(
    "cropbox_larger_than_mediabox",
    about="finding 1: CropBox [-20 -30 615.28 861.89] around MediaBox [0 0 595.28 841.89]",
)
def cropbox_larger_than_mediabox() -> bytes:
    return with_page_geometry(
        make_pdf(pages=2), mediabox=A4_BOX, cropbox=[-20, -30, 615.28, 861.89]
    )


@kind(
    "inherited_attributes",
    about="MediaBox, Rotate 90 and Resources only on the Pages node, inherited by every page",
)
def inherited_attributes() -> bytes:
    # One pikepdf session: pikepdf pushes inherited attributes down to the pages when it
    # opens a file, so moving them up must be the last thing before saving.
    def change(pdf: pikepdf.Pdf) -> None:
        root = pdf.Root.Pages
        shared = pikepdf.Dictionary()
        for page in pdf.pages:
            node = page.obj
            for key in ("/MediaBox", "/Rotate"):
                if key in node:
                    del node[key]
            for category, entries in node.Resources.items():
                if isinstance(entries, pikepdf.Dictionary):
                    target = shared.get(category)
                    if target is None:
                        target = shared[category] = pikepdf.Dictionary()
                    for name, value in entries.items():
                        target[name] = value
                else:
                    shared[category] = entries
            del node["/Resources"]
        root.MediaBox = pikepdf.Array(A4_BOX)
        root.Rotate = 90
        root.Resources = pdf.make_indirect(shared)

    return _rewrite(make_pdf(pages=2), change)


@kind(
    "mixed_page_sizes",
    about="A4 portrait, A3 landscape and US Letter pages in one file",
)
def mixed_page_sizes() -> bytes:
    font = register_reportlab_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=True)
    for number, size in enumerate((A4, landscape(A3), letter), start=1):
        c.setPageSize(size)
        width, height = size
        c.setFont(font, 16)
        c.drawCentredString(width / 2, height - 80, f"物品売買契約書 第{number}頁")
        c.setFont(font, 10)
        c.drawString(60, height - 120, "甲と乙は、次のとおり売買契約を締結する。")
        c.showPage()
    c.save()
    return buf.getvalue()


@kind("six_hundred_pages", about="600 pages (a long specification attached to a contract)")
def six_hundred_pages() -> bytes:
    return make_pdf(pages=600, text="仕様書")


# What a city's files carry --------------------------------------------------------------------


@kind(
    "filled_acroform",
    about="an AcroForm with a filled text field, a ticked checkbox and a chosen list item",
)
def filled_acroform() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True)
    c.setFont("Helvetica", 14)
    c.drawString(72, 780, "Application form")
    form = c.acroForm
    c.setFont("Helvetica", 10)
    c.drawString(72, 700, "Company")
    form.textfield(
        name="company",
        value="Sample Construction Ltd.",
        x=150,
        y=690,
        width=250,
        height=22,
        borderColor=black,
        fillColor=white,
        textColor=black,
        forceBorder=True,
    )
    c.drawString(72, 650, "Agree")
    form.checkbox(name="agree", checked=True, x=150, y=645, size=16, buttonStyle="check")
    c.drawString(72, 600, "Payment")
    form.choice(
        name="payment",
        value="Bank transfer",
        options=["Cash", "Bank transfer", "Cheque"],
        x=150,
        y=590,
        width=150,
        height=22,
    )
    c.showPage()
    c.save()
    return buf.getvalue()


def _appearance(pdf: pikepdf.Pdf, rect: list[float], content: bytes, **extra: object) -> object:
    stream = pdf.make_stream(content)
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Form
    stream.BBox = pikepdf.Array([0, 0, rect[2] - rect[0], rect[3] - rect[1]])
    for key, value in extra.items():
        stream[f"/{key}"] = value
    return stream


@kind("annotations", about="a highlight and a note (sticky) annotation on page 1, with appearances")
def annotations() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        highlight_rect = [56, 690, 420, 706]
        x0, y0, x1, y1 = highlight_rect
        transparent = pikepdf.Dictionary(
            ExtGState=pikepdf.Dictionary(
                GS0=pikepdf.Dictionary(Type=pikepdf.Name.ExtGState, BM=pikepdf.Name.Multiply)
            )
        )
        highlight = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Highlight,
            Rect=pikepdf.Array(highlight_rect),
            QuadPoints=pikepdf.Array([x0, y1, x1, y1, x0, y0, x1, y0]),
            C=pikepdf.Array([1, 1, 0]),
            Contents=pikepdf.String("確認済み"),
            F=4,
            AP=pikepdf.Dictionary(
                N=_appearance(
                    pdf,
                    highlight_rect,
                    b"/GS0 gs 1 1 0 rg 0 0 %d %d re f" % (x1 - x0, y1 - y0),
                    Resources=transparent,
                )
            ),
        )
        note_rect = [520, 760, 540, 780]
        note = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Text,
            Rect=pikepdf.Array(note_rect),
            Contents=pikepdf.String("第2条の金額を確認してください"),
            T=pikepdf.String("契約課"),
            Name=pikepdf.Name.Comment,
            F=4,
            AP=pikepdf.Dictionary(
                N=_appearance(pdf, note_rect, b"1 0.8 0 rg 0 0 20 20 re f 0 G 0 0 20 20 re S")
            ),
        )
        pdf.pages[0].obj.Annots = pdf.make_indirect(
            pikepdf.Array([pdf.make_indirect(highlight), pdf.make_indirect(note)])
        )

    return _rewrite(make_pdf(pages=2), change)


@kind("outlines", about="bookmarks (a two-level outline) with Japanese titles")
def outlines() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        with pdf.open_outline() as outline:
            first = pikepdf.OutlineItem("第1条 目的", 0)
            first.children.append(pikepdf.OutlineItem("第2条 請負代金", 0))
            outline.root.append(first)
            outline.root.append(pikepdf.OutlineItem("別紙 仕様書", 1))

    return _rewrite(make_pdf(pages=2), change)


@kind("page_labels", about="page labels: roman numerals, then 1, 2 … with a prefix")
def page_labels() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.PageLabels = pdf.make_indirect(
            pikepdf.Dictionary(
                Nums=pikepdf.Array(
                    [
                        0,
                        pikepdf.Dictionary(S=pikepdf.Name.r),
                        1,
                        pikepdf.Dictionary(S=pikepdf.Name.D, P=pikepdf.String("本文-")),
                    ]
                )
            )
        )

    return _rewrite(make_pdf(pages=3), change)


@kind("unicode_metadata", about="Japanese title, author and keywords in /Info and in XMP")
def unicode_metadata() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.docinfo["/Title"] = "令和8年度 道路補修工事 請負契約書（髙橋建設㈱）"
        pdf.docinfo["/Author"] = "テスト市 契約課 ①"
        pdf.docinfo["/Keywords"] = "契約, 𠮷野家, 😀"
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:title"] = "令和8年度 道路補修工事 請負契約書（髙橋建設㈱）"
            meta["dc:creator"] = ["テスト市 契約課 ①"]
            meta["pdf:Keywords"] = "契約, 𠮷野家, 😀"

    return _rewrite(make_pdf(), change)


@kind("optional_content", about="two layers (optional content groups), one of them hidden")
def optional_content() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        shown = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.OCG, Name=pikepdf.String("承認印"))
        )
        hidden = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.OCG, Name=pikepdf.String("下書き"))
        )
        pdf.Root.OCProperties = pikepdf.Dictionary(
            OCGs=pikepdf.Array([shown, hidden]),
            D=pikepdf.Dictionary(
                Order=pikepdf.Array([shown, hidden]),
                ON=pikepdf.Array([shown]),
                OFF=pikepdf.Array([hidden]),
            ),
        )
        page = pdf.pages[0]
        properties = page.obj.Resources.get("/Properties")
        if properties is None:
            properties = page.obj.Resources.Properties = pikepdf.Dictionary()
        properties.OC1 = shown
        properties.OC2 = hidden
        page.contents_add(
            b"/OC /OC1 BDC 1 0 0 RG 2 w 400 100 80 80 re S EMC\n"
            b"/OC /OC2 BDC 0 0 1 rg 200 100 80 80 re f EMC\n"
        )

    return _rewrite(make_pdf(), change)


@kind(
    "transparency_group",
    about="a page transparency group and a half-transparent, multiplied form XObject",
)
def transparency_group() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        page = pdf.pages[0]
        page.obj.Group = pikepdf.Dictionary(
            Type=pikepdf.Name.Group, S=pikepdf.Name.Transparency, CS=pikepdf.Name.DeviceRGB
        )
        form = pdf.make_stream(b"/GS1 gs 0 0.5 1 rg 0 0 200 120 re f")
        form.Type = pikepdf.Name.XObject
        form.Subtype = pikepdf.Name.Form
        form.BBox = pikepdf.Array([0, 0, 200, 120])
        form.Group = pikepdf.Dictionary(
            Type=pikepdf.Name.Group, S=pikepdf.Name.Transparency, I=True, K=False
        )
        form.Resources = pikepdf.Dictionary(
            ExtGState=pikepdf.Dictionary(
                GS1=pikepdf.Dictionary(
                    Type=pikepdf.Name.ExtGState, ca=0.5, CA=0.5, BM=pikepdf.Name.Multiply
                )
            )
        )
        page.add_resource(form, pikepdf.Name.XObject, pikepdf.Name.Tr1)
        page.contents_add(b"q 1 0 0 1 180 300 cm /Tr1 Do Q")

    return _rewrite(make_pdf(), change)


@kind("tagged_pdf", about="a tagged PDF: MarkInfo, a structure tree with a paragraph and MCIDs")
def tagged_pdf() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        page = pdf.pages[0]
        contents = b"".join(
            bytes(s.read_bytes())
            for s in (
                page.obj.Contents
                if isinstance(page.obj.Contents, pikepdf.Array)
                else [page.obj.Contents]
            )
        )
        page.obj.Contents = pdf.make_stream(b"/P <</MCID 0>> BDC\n" + contents + b"\nEMC\n")
        page.obj.StructParents = 0
        root = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot))
        document = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.Document, P=root)
        )
        paragraph = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.StructElem,
                S=pikepdf.Name.P,
                P=document,
                Pg=page.obj,
                K=0,
            )
        )
        document.K = pikepdf.Array([paragraph])
        root.K = document
        root.ParentTree = pdf.make_indirect(
            pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Array([paragraph])]))
        )
        root.ParentTreeNextKey = 1
        pdf.Root.StructTreeRoot = root
        pdf.Root.MarkInfo = pikepdf.Dictionary(Marked=True)
        pdf.Root.Lang = pikepdf.String("ja-JP")

    return _rewrite(make_pdf(), change)


# Refused --------------------------------------------------------------------------------------


@kind(
    "already_signed",
    about="already carries a PAdES signature: refused (keiyaku's signatures would follow it)",
    expect="refuse",
    refusal_code="signed",
)
def already_signed() -> bytes:
    return make_signed_pdf()


@kind(
    "truncated",
    about="a three-page file cut in half (an interrupted download): refused as corrupt",
    expect="refuse",
    refusal_code="corrupt",
)
def truncated() -> bytes:
    return truncated_pdf()


@kind(
    "no_pages",
    about="a well-formed PDF whose page tree is empty: refused",
    expect="refuse",
    refusal_code="no_pages",
)
def no_pages() -> bytes:
    pdf = pikepdf.new()
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


@kind(
    "not_pdf",
    about="a PNG image named .pdf: refused",
    expect="refuse",
    refusal_code="not_pdf",
)
def not_pdf() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(out, format="PNG")
    return out.getvalue()
