"""Old forms and object graphs keiyaku could accept but not sign verifiably (issue 10, findings
2, 7, 8): each kind is a one-page contract (`tests.pdfs.make_pdf`) with one form or graph quirk
added by pikepdf, the way the authoring tool named in its ``about`` saves it.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pikepdf

from tests.pdf_corpus import kind
from tests.pdfs import make_pdf

_FLATTENED = "form_flattened"


def _edit(change: Callable[[pikepdf.Pdf], None]) -> bytes:
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        change(pdf)
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
        return out.getvalue()


def _stream(pdf: pikepdf.Pdf, content: bytes, bbox: tuple[float, ...], **extra) -> pikepdf.Stream:
    stream = pikepdf.Stream(pdf, content)
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Form
    stream.BBox = pikepdf.Array(bbox)
    for key, value in extra.items():
        stream[f"/{key}"] = value
    return stream


def _acroform(pdf: pikepdf.Pdf, fields: list[pikepdf.Object]) -> None:
    pdf.Root.AcroForm = pdf.make_indirect(
        pikepdf.Dictionary(Fields=pikepdf.Array(fields), DA=pikepdf.String("/Helv 0 Tf 0 g"))
    )
    page = pdf.pages[0].obj
    annots = page.get("/Annots") or pikepdf.Array()
    for field in fields:
        for widget in field.get("/Kids", [field]):
            annots.append(widget)
    page.Annots = annots


@kind(
    "form_ap_n_not_stream",
    about="finding 2: an empty text field whose /AP /N is a dictionary, not a stream",
    changes=(_FLATTENED,),
)
def form_ap_n_not_stream() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        field = pdf.make_indirect(
            pikepdf.Dictionary(
                FT=pikepdf.Name.Tx,
                T=pikepdf.String("Name"),
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                Rect=[300, 600, 500, 620],
                F=4,
                P=pdf.pages[0].obj,
                AP=pikepdf.Dictionary(N=pikepdf.Dictionary()),
            )
        )
        _acroform(pdf, [field])

    return _edit(change)


def _radio_kid(pdf: pikepdf.Pdf, name: str, state: str, x: float, on: bool) -> pikepdf.Object:
    rect = (x, 700, x + 14, 714)
    bbox = (0, 0, 14, 14)
    return pdf.make_indirect(
        pikepdf.Dictionary(
            FT=pikepdf.Name.Btn,
            Ff=1 << 15,  # radio
            T=pikepdf.String(name),
            V=pikepdf.Name("/" + state) if on else pikepdf.Name.Off,
            AS=pikepdf.Name("/" + state) if on else pikepdf.Name.Off,
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            Rect=list(rect),
            F=4,
            P=pdf.pages[0].obj,
            MK=pikepdf.Dictionary(),
            AP=pikepdf.Dictionary(
                N=pikepdf.Dictionary(
                    {
                        "/" + state: _stream(pdf, b"0 g 3 3 8 8 re f 0 0 14 14 re S", bbox),
                        "/Off": _stream(pdf, b"0 0 14 14 re S", bbox),
                    }
                )
            ),
        )
    )


@kind(
    "form_radio_kids_share_name",
    about="finding 8: radio buttons saved by macOS Preview, each kid a field named alike",
    changes=(_FLATTENED,),
)
def form_radio_kids_share_name() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        _acroform(
            pdf,
            [
                _radio_kid(pdf, "Choice", "A", 300, True),
                _radio_kid(pdf, "Choice", "B", 340, False),
            ],
        )

    return _edit(change)


@kind(
    "structure_tree_circular",
    about="finding 8: a tagged PDF whose structure tree loops back on itself",
    changes=("structure_tree_removed",),
)
def structure_tree_circular() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        root = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot))
        part = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.Part, P=root)
        )
        para = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.StructElem, S=pikepdf.Name.P, P=part, Pg=pdf.pages[0].obj
            )
        )
        part.K = pikepdf.Array([para])
        para.K = pikepdf.Array([part, 0])  # the loop: the paragraph contains its parent
        root.K = part
        root.ParentTree = pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Array([para])]))
        pdf.Root.StructTreeRoot = root
        pdf.Root.MarkInfo = pikepdf.Dictionary(Marked=True)
        pdf.pages[0].obj.StructParents = 0

    return _edit(change)


@kind(
    "form_field_tree_circular",
    about="finding 8: a form-field tree whose kid lists its own parent (「送信」 was a 500)",
    changes=(_FLATTENED,),
)
def form_field_tree_circular() -> bytes:
    def change(pdf: pikepdf.Pdf) -> None:
        parent = pdf.make_indirect(pikepdf.Dictionary(T=pikepdf.String("Group")))
        widget = pdf.make_indirect(
            pikepdf.Dictionary(
                FT=pikepdf.Name.Tx,
                T=pikepdf.String("Inner"),
                Parent=parent,
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                Rect=[300, 600, 500, 620],
                F=4,
                P=pdf.pages[0].obj,
                AP=pikepdf.Dictionary(N=_stream(pdf, b"", (0, 0, 200, 20))),
                Kids=pikepdf.Array([parent]),  # the loop
            )
        )
        parent.Kids = pikepdf.Array([widget])
        pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([parent])))
        pdf.pages[0].obj.Annots = pikepdf.Array([widget])

    return _edit(change)


CHAINED_XOBJECTS = 22


def chained_form_xobjects(count: int = CHAINED_XOBJECTS) -> bytes:
    """A form field whose appearance draws form XObject ``count - 1``, each of which lists every
    earlier one in its /Resources: paths through the graph double with each one."""

    def change(pdf: pikepdf.Pdf) -> None:
        forms: list[pikepdf.Object] = []
        for i in range(count):
            resources = pikepdf.Dictionary(
                XObject=pikepdf.Dictionary({f"/X{j}": form for j, form in enumerate(forms)})
            )
            draw = f"0 g {i % 20} 0 1 1 re f".encode()
            if forms:
                draw += f" /X{i - 1} Do".encode()
            forms.append(
                pdf.make_indirect(_stream(pdf, draw, (0, 0, 200, 20), Resources=resources))
            )
        field = pdf.make_indirect(
            pikepdf.Dictionary(
                FT=pikepdf.Name.Tx,
                T=pikepdf.String("Chained"),
                V=pikepdf.String("x"),
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                Rect=[300, 600, 500, 620],
                F=4,
                P=pdf.pages[0].obj,
                AP=pikepdf.Dictionary(N=forms[-1]),
            )
        )
        _acroform(pdf, [field])

    return _edit(change)


@kind(
    "form_xobjects_chained",
    about="finding 7: 22 form XObjects each listing the earlier ones (verify never ended)",
    changes=("form_flattened", "xobject_resources_pruned"),
)
def form_xobjects_chained() -> bytes:
    return chained_form_xobjects()


def form_xobjects_drawn_exponentially(count: int = 20) -> bytes:
    """Form XObjects each of which *draws* every earlier one: the page really is 2^count draws,
    and no normalisation short of rasterising makes its graph small."""
    data = chained_form_xobjects(count)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Form:
                names = sorted(obj.Resources.XObject.keys())
                obj.write(b"0 g 0 0 1 1 re f " + b" ".join(n.encode() + b" Do" for n in names))
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
        return out.getvalue()


@kind(
    "form_xobjects_drawn_exponentially",
    about="finding 7: form XObjects each drawing every earlier one (no repair makes it small);"
    " 2^20 drawings, counted and refused before any reader builds them",
    expect="refuse",
    refusal_code="too_many_drawings",
)
def _form_xobjects_drawn_exponentially() -> bytes:
    return form_xobjects_drawn_exponentially()
