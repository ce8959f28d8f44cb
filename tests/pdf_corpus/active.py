"""Active content (issue 10, finding 3 bullets 2 and 3, finding 9): scripts, actions that reach
outside the file, embedded files, multimedia, links and XFA forms, built on a generated contract.

The changes each kind expects are those of an organisation that keeps no links (the default).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from tests.pdf_corpus import kind
from tests.pdfs import make_pdf

Edit = Callable[[pikepdf.Pdf], None]


def build(edit: Edit, *, pages: int = 2, text: str = "工事請負契約書") -> bytes:
    """``make_pdf(pages=…, text=…)`` changed by ``edit``, saved deterministically."""
    with pikepdf.open(io.BytesIO(make_pdf(pages=pages, text=text))) as pdf:
        edit(pdf)
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
    return out.getvalue()


def js(pdf: pikepdf.Pdf, script: str, **extra: object) -> pikepdf.Object:
    return pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String(script), **extra))


def action(pdf: pikepdf.Pdf, kind_: str, **entries: object) -> pikepdf.Object:
    return pdf.make_indirect(Dictionary(Type=Name.Action, S=Name("/" + kind_), **entries))


def annotate(pdf: pikepdf.Pdf, page: int, annot: Dictionary) -> pikepdf.Object:
    """Add ``annot`` (a /Rect and /Subtype given) to page ``page``; returns it, indirect."""
    page_obj = pdf.pages[page].obj
    annot.Type = Name.Annot
    annot.P = page_obj
    made = pdf.make_indirect(annot)
    if "/Annots" not in page_obj:
        page_obj.Annots = Array()
    page_obj.Annots.append(made)
    return made


def rect(x: float, y: float, w: float = 120, h: float = 20) -> Array:
    return Array([x, y, x + w, y + h])


def filespec(pdf: pikepdf.Pdf, name: str, data: bytes) -> pikepdf.Object:
    """A file specification with the file embedded (/EF)."""
    stream = pikepdf.Stream(pdf, data)
    stream.Type = Name.EmbeddedFile
    return pdf.make_indirect(
        Dictionary(
            Type=Name.Filespec,
            F=String(name),
            UF=String(name),
            EF=Dictionary(F=stream),
            AFRelationship=Name.Data,
        )
    )


def text_field(pdf: pikepdf.Pdf, name: str, value: str, **extra: object) -> pikepdf.Object:
    """A filled text field on page 1 with a stream appearance, listed in /AcroForm."""
    appearance = pikepdf.Stream(pdf, b"0 0 0 RG 0.5 0.5 199 19 re S")
    appearance.Type = Name.XObject
    appearance.Subtype = Name.Form
    appearance.BBox = Array([0, 0, 200, 20])
    widget = annotate(
        pdf,
        0,
        Dictionary(
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String(name),
            V=String(value),
            Rect=rect(300, 120, 200, 20),
            F=4,
            DA=String("/Helv 10 Tf 0 g"),
            AP=Dictionary(N=appearance),
            **extra,
        ),
    )
    acroform = pdf.Root.get("/AcroForm")
    if acroform is None:
        helv = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
        acroform = pdf.Root.AcroForm = Dictionary(
            Fields=Array(), DR=Dictionary(Font=Dictionary(Helv=helv)), DA=String("/Helv 10 Tf 0 g")
        )
    acroform.Fields.append(widget)
    return widget


def xfa(pdf: pikepdf.Pdf) -> None:
    """An XFA packet array (§12.7.8) on the document's /AcroForm (created if missing)."""
    template = pikepdf.Stream(
        pdf,
        b'<template xmlns="http://www.xfa.org/schema/xfa-template/3.3/"><subform name="form1">'
        b'<field name="name"/><event activity="initialize"><script contentType='
        b'"application/x-javascript">app.launchURL("http://example.invalid/")</script>'
        b"</event></subform></template>",
    )
    packets = Array(
        [
            String("preamble"),
            pikepdf.Stream(pdf, b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/">'),
            String("template"),
            template,
            String("postamble"),
            pikepdf.Stream(pdf, b"</xdp:xdp>"),
        ]
    )
    if "/AcroForm" not in pdf.Root:
        pdf.Root.AcroForm = Dictionary(Fields=Array())
    pdf.Root.AcroForm.XFA = packets


# Scripts ----------------------------------------------------------------------------------


@kind(
    "javascript_everywhere",
    about="JavaScript in the names tree, /OpenAction with a /Next chain, catalog and page /AA, "
    "a form field's keystroke and calculate actions and a bookmark's /Next (finding 3)",
    changes=("javascript_removed",),
)
def javascript_everywhere() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        pdf.Root.Names = Dictionary(
            JavaScript=Dictionary(Names=Array([String("init"), js(pdf, "app.alert('init')")]))
        )
        pdf.Root.OpenAction = js(pdf, "this.print()", Next=Array([js(pdf, "app.beep(0)")]))
        pdf.Root.AA = Dictionary(WC=js(pdf, "app.alert('closing')"))
        pdf.pages[0].obj.AA = Dictionary(O=js(pdf, "app.launchURL('http://example.invalid/')"))
        text_field(
            pdf,
            "amount",
            "1,234,567",
            AA=Dictionary(K=js(pdf, "AFNumber_Keystroke(0)"), C=js(pdf, "AFSimple_Calculate()")),
        )
        page2 = pdf.pages[1].obj
        item = pdf.make_indirect(
            Dictionary(
                Title=String("第2頁"),
                A=action(pdf, "GoTo", D=Array([page2, Name.Fit]), Next=js(pdf, "app.alert(1)")),
            )
        )
        outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, First=item, Last=item, Count=1))
        item.Parent = outlines
        pdf.Root.Outlines = outlines

    return build(edit)


@kind(
    "launch_and_outside_actions",
    about="Launch of an executable on page open, GoToR as /OpenAction, a Link with GoToE, "
    "SubmitForm and ImportData on a field, an automatic URI on page close (finding 3)",
    changes=("external_actions_removed", "links_removed"),
)
def launch_and_outside_actions() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        launch = action(
            pdf,
            "Launch",
            F=String("C:\\Windows\\System32\\cmd.exe"),
            Win=Dictionary(F=String("cmd.exe"), P=String("/c calc.exe")),
        )
        pdf.pages[0].obj.AA = Dictionary(
            O=launch, C=action(pdf, "URI", URI=String("http://example.invalid/track"))
        )
        pdf.Root.OpenAction = action(
            pdf, "GoToR", F=String("other.pdf"), D=Array([0, Name.Fit]), NewWindow=True
        )
        annotate(
            pdf,
            1,
            Dictionary(
                Subtype=Name.Link,
                Rect=rect(72, 500),
                Border=Array([0, 0, 0]),
                A=action(pdf, "GoToE", T=Dictionary(R=Name.C, N=String("attachment.pdf"))),
            ),
        )
        text_field(
            pdf,
            "send",
            "送信",
            A=action(
                pdf,
                "SubmitForm",
                F=Dictionary(FS=Name.URL, F=String("http://example.invalid/collect")),
            ),
            AA=Dictionary(Fo=action(pdf, "ImportData", F=String("data.fdf"))),
        )

    return build(edit)


@kind(
    "automatic_actions",
    about="Named, Hide, SetOCGState and ResetForm actions run on opening, printing and page "
    "change; they change what is shown without a script (finding 3)",
    changes=("actions_removed",),
)
def automatic_actions() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = action(pdf, "SetOCGState", State=Array([Name.OFF]))
        pdf.Root.AA = Dictionary(
            WP=action(pdf, "Hide", T=String("amount"), H=True),
            DP=action(pdf, "ResetForm"),
        )
        pdf.pages[0].obj.AA = Dictionary(O=action(pdf, "Named", N=Name.NextPage))

    return build(edit)


@kind(
    "open_action_destination",
    about="/OpenAction that is only a destination (page 1, zoom), as LibreOffice writes: kept",
)
def open_action_destination() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = Array([pdf.pages[0].obj, Name.XYZ, None, None, 0])

    return build(edit)


# Embedded files and multimedia -------------------------------------------------------------


@kind(
    "embedded_files",
    about="An executable in /EmbeddedFiles, a FileAttachment annotation with its pop-up and "
    "an associated file (/AF) on the catalog (finding 3)",
    changes=("embedded_files_removed",),
)
def embedded_files() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        exe = filespec(pdf, "invoice.exe", b"MZ\x90\x00" + b"\x00" * 60)
        pdf.Root.Names = Dictionary(
            EmbeddedFiles=Dictionary(Names=Array([String("invoice.exe"), exe]))
        )
        attached = annotate(
            pdf,
            0,
            Dictionary(
                Subtype=Name.FileAttachment,
                Rect=rect(500, 780, 16, 16),
                FS=filespec(pdf, "明細.xlsx", b"PK\x03\x04" + b"\x00" * 40),
                Contents=String("明細"),
                Name=Name.PushPin,
            ),
        )
        attached.Popup = annotate(
            pdf, 0, Dictionary(Subtype=Name.Popup, Rect=rect(400, 600, 150, 100), Parent=attached)
        )
        pdf.Root.AF = Array([filespec(pdf, "data.xml", b"<invoice/>")])

    return build(edit)


@kind(
    "multimedia",
    about="RichMedia (with an embedded asset), Screen with a Rendition action, Sound, Movie and "
    "3D annotations and a /Renditions name tree (finding 3)",
    changes=("multimedia_removed", "embedded_files_removed"),
)
def multimedia() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        asset = filespec(pdf, "movie.swf", b"FWS\x09" + b"\x00" * 40)
        annotate(
            pdf,
            0,
            Dictionary(
                Subtype=Name.RichMedia,
                Rect=rect(72, 300, 200, 150),
                RichMediaContent=Dictionary(
                    Assets=Dictionary(Names=Array([String("movie.swf"), asset])),
                    Configurations=Array(
                        [Dictionary(Instances=Array([Dictionary(Subtype=Name.Flash, Asset=asset)]))]
                    ),
                ),
            ),
        )
        rendition = pdf.make_indirect(Dictionary(Type=Name.Rendition, S=Name.MR, N=String("clip")))
        screen = annotate(pdf, 0, Dictionary(Subtype=Name.Screen, Rect=rect(300, 300, 100, 100)))
        screen.A = action(pdf, "Rendition", OP=0, R=rendition, AN=screen)
        sound = pikepdf.Stream(pdf, b"\x00" * 800)
        sound.Type = Name.Sound
        sound.R = 8000
        annotate(pdf, 1, Dictionary(Subtype=Name.Sound, Rect=rect(72, 72, 16, 16), Sound=sound))
        annotate(
            pdf,
            1,
            Dictionary(
                Subtype=Name.Movie,
                Rect=rect(100, 72, 160, 120),
                Movie=Dictionary(F=String("clip.mov")),
            ),
        )
        three_d = pikepdf.Stream(pdf, b"U3D\x00")
        three_d.Type = Name("/3D")
        three_d.Subtype = Name("/U3D")
        model = Dictionary(Subtype=Name("/3D"), Rect=rect(300, 72, 100, 100))
        model["/3DD"] = three_d
        annotate(pdf, 1, model)
        pdf.Root.Names = Dictionary(Renditions=Dictionary(Names=Array([String("clip"), rendition])))

    return build(edit)


# Links ------------------------------------------------------------------------------------


@kind(
    "links_web_and_internal",
    about="A Link to a web page (URI), a Link to page 2 (/Dest) and a bookmark to a web page: "
    "removed unless the organisation keeps links (finding 3)",
    changes=("links_removed",),
)
def links_web_and_internal() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        annotate(
            pdf,
            0,
            Dictionary(
                Subtype=Name.Link,
                Rect=rect(72, 400),
                Border=Array([0, 0, 0]),
                A=action(pdf, "URI", URI=String("https://www.example.jp/keiyaku/terms")),
            ),
        )
        annotate(
            pdf,
            0,
            Dictionary(
                Subtype=Name.Link,
                Rect=rect(72, 370),
                Border=Array([0, 0, 0]),
                Dest=Array([pdf.pages[1].obj, Name.Fit]),
            ),
        )
        item = pdf.make_indirect(
            Dictionary(
                Title=String("約款"),
                A=action(pdf, "URI", URI=String("https://www.example.jp/keiyaku/yakkan")),
            )
        )
        outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, First=item, Last=item, Count=1))
        item.Parent = outlines
        pdf.Root.Outlines = outlines

    return build(edit)


# XFA --------------------------------------------------------------------------------------


@kind(
    "xfa_dynamic_with_fields",
    about="Dynamic XFA form (/XFA, /NeedsRendering true) that also has a filled AcroForm "
    "field on a real page: XFA removed, the pages kept (finding 3)",
    changes=("xfa_removed",),
)
def xfa_dynamic_with_fields() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        text_field(pdf, "name", "髙橋建設")
        xfa(pdf)
        pdf.Root.NeedsRendering = True

    return build(edit)


@kind(
    "xfa_static",
    about="Static XFA form (/XFA without /NeedsRendering) with its AcroForm field: XFA removed",
    changes=("xfa_removed",),
)
def xfa_static() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        text_field(pdf, "name", "髙橋建設")
        xfa(pdf)

    return build(edit)


PLACEHOLDER = (
    "The document you are trying to load requires Adobe Reader 8 or higher. "
    "Please wait... If this message is not eventually replaced by the proper contents"
)


@kind(
    "xfa_placeholder_page",
    about="Dynamic XFA form with no AcroForm field whose page is only Adobe's 'requires Adobe "
    "Reader 8 or higher' placeholder; the content is in the XFA only (finding 9)",
    expect="refuse",
    refusal_code="xfa_only",
)
def xfa_placeholder_page() -> bytes:
    def edit(pdf: pikepdf.Pdf) -> None:
        xfa(pdf)
        pdf.Root.NeedsRendering = True

    return build(edit, pages=1, text=PLACEHOLDER)


@kind(
    "portfolio",
    about="PDF portfolio (/Collection): a cover page, the documents are embedded files",
    expect="refuse",
    refusal_code="portfolio",
)
def portfolio() -> bytes:
    inner = make_pdf(text="見積書")

    def edit(pdf: pikepdf.Pdf) -> None:
        spec = filespec(pdf, "見積書.pdf", inner)
        pdf.Root.Names = Dictionary(
            EmbeddedFiles=Dictionary(Names=Array([String("見積書.pdf"), spec]))
        )
        pdf.Root.Collection = Dictionary(Type=Name.Collection, View=Name.T)

    return build(edit, pages=1, text="PDFポートフォリオ")
