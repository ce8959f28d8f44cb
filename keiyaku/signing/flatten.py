"""Normalising harder: what ingest does to a file whose proof failed (``ingest_proof``).

Issue 10, findings 2, 7 and 8. Each repair keeps what the page prints and removes the structure
pyHanko's change analysis cannot follow:

- **Form fields** (non-stream ``/AP /N``, radio kids sharing a name as macOS Preview saves them,
  a field tree that loops): every widget's appearance is drawn into its page's content (qpdf's
  flattening, ISO 32000-1 §12.5.5 for placing an appearance), the widgets leave the page and the
  AcroForm goes. A form the party was meant to fill is not one keiyaku lets them fill anyway:
  boxes are keiyaku's own fields.
- **Structure tree** that loops (or reaches one element twice): /StructTreeRoot, /MarkInfo and the
  pages' and annotations' /StructParent(s) go; the page content stays as is.
- **Form XObjects that list each other** in their resources (finding 7): each form XObject keeps
  in its /Resources /XObject only the names its content stream draws, so a chain of forms
  listing every earlier one becomes a chain listing one.

Knows nothing of Django. The result is one full rewrite (``ingest._save``), made before any
signature.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pikepdf

__all__ = [
    "FORM_FLATTENED",
    "STRUCTURE_TREE_REMOVED",
    "XOBJECT_RESOURCES_PRUNED",
    "normalise_harder",
]

logger = logging.getLogger(__name__)

# The IngestChange values (keiyaku.signing.ingest) each repair records.
FORM_FLATTENED = "form_flattened"
STRUCTURE_TREE_REMOVED = "structure_tree_removed"
XOBJECT_RESOURCES_PRUNED = "xobject_resources_pruned"

_ANNOT_HIDDEN = 2
_ANNOT_NO_VIEW = 32


def normalise_harder(pdf: bytes) -> tuple[bytes, list[str]]:
    """Apply every repair this module knows that ``pdf`` needs; return the rewrite and the
    IngestChange values applied (in that order; empty when nothing applied, and then ``pdf``
    unchanged).

    ``pdf``: a normalised upload (``ingest._normalise``). Raises pikepdf's errors for a file it
    cannot open, which ingest already opened once.
    """
    applied: list[str] = []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        if _structure_tree_is_broken(doc):
            _remove_structure_tree(doc)
            applied.append(STRUCTURE_TREE_REMOVED)
        if _has_form(doc):
            _flatten_form(doc)
            applied.append(FORM_FLATTENED)
        if _prune_xobject_resources(doc):
            applied.append(XOBJECT_RESOURCES_PRUNED)
        if not applied:
            return pdf, []
        from keiyaku.signing.ingest import _save

        return _save(doc), applied


# Structure tree -------------------------------------------------------------------------------


def _structure_tree_is_broken(doc: pikepdf.Pdf) -> bool:
    """True when the structure tree reaches some element twice (a loop, or a shared kid):
    pyHanko's change analysis walks it as a tree and refuses to validate otherwise."""
    root = doc.Root.get("/StructTreeRoot")
    if root is None:
        return False
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend(node)
            continue
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if node.get("/Type") in (pikepdf.Name.MCR, pikepdf.Name.OBJR):
            continue  # references to content, not elements
        if node.is_indirect:
            if node.objgen in seen:
                return True
            seen.add(node.objgen)
        kids = node.get("/K")
        if kids is not None:
            stack.append(kids)
    return False


def _remove_structure_tree(doc: pikepdf.Pdf) -> None:
    for key in ("/StructTreeRoot", "/MarkInfo"):
        if key in doc.Root:
            del doc.Root[key]
    for page in doc.pages:
        if "/StructParents" in page.obj:
            del page.obj["/StructParents"]
        for annot in page.obj.get("/Annots", ()):
            if isinstance(annot, pikepdf.Dictionary) and "/StructParent" in annot:
                del annot["/StructParent"]


# Form fields ----------------------------------------------------------------------------------


def _has_form(doc: pikepdf.Pdf) -> bool:
    if "/AcroForm" in doc.Root:
        return True
    return any(_is_widget(annot) for page in doc.pages for annot in _annots(page))


def _annots(page: pikepdf.Page) -> Iterator[pikepdf.Object]:
    annots = page.obj.get("/Annots")
    if isinstance(annots, pikepdf.Array):
        yield from annots


def _is_widget(annot: object) -> bool:
    return isinstance(annot, pikepdf.Dictionary) and annot.get("/Subtype") == pikepdf.Name.Widget


def _flatten_form(doc: pikepdf.Pdf) -> None:
    """Draw every printable widget's normal appearance into its page and drop the form.

    qpdf flattens the widgets (and only them: the other annotations are set aside meanwhile,
    links and notes stay annotations). Before that the form is made something qpdf can walk: a
    dictionary /AP /N without a usable /AS is dropped (it prints nothing), and /AcroForm
    /Fields is replaced by the widgets themselves, flat, so a looping field tree cannot loop.
    """
    widgets: list[pikepdf.Object] = []
    others: dict[int, list[pikepdf.Object]] = {}
    for index, page in enumerate(doc.pages):
        kept = []
        for annot in _annots(page):
            if _is_widget(annot):
                _repair_appearance(annot)
                for key in ("/Parent", "/Kids"):
                    if key in annot:
                        del annot[key]
                widgets.append(annot)
            else:
                kept.append(annot)
        others[index] = kept
        if "/Annots" in page.obj:
            page.obj.Annots = pikepdf.Array([a for a in _annots(page) if _is_widget(a)])
    doc.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(widgets))
    # Printable ones only, as a printer would: hidden or screen-only widgets print nothing.
    doc.flatten_annotations(mode="print")
    for index, page in enumerate(doc.pages):
        if others[index]:
            page.obj.Annots = pikepdf.Array(others[index])
        elif "/Annots" in page.obj:
            del page.obj["/Annots"]
    if "/AcroForm" in doc.Root:
        del doc.Root["/AcroForm"]


def _repair_appearance(widget: pikepdf.Object) -> None:
    """Keep /AP /N only if it names one stream to print (a stream, or a state dictionary with
    /AS naming a stream); otherwise the widget prints nothing and loses its /AP."""
    ap = widget.get("/AP")
    normal = ap.get("/N") if isinstance(ap, pikepdf.Dictionary) else None
    if isinstance(normal, pikepdf.Stream):
        chosen: pikepdf.Object | None = normal
    elif isinstance(normal, pikepdf.Dictionary):
        state = widget.get("/AS")
        chosen = normal.get(str(state)) if isinstance(state, pikepdf.Name) else None
        if not isinstance(chosen, pikepdf.Stream):
            chosen = None
    else:
        chosen = None
    if chosen is None:
        if "/AP" in widget:
            del widget["/AP"]
        return
    if "/Type" not in chosen:
        chosen.Type = pikepdf.Name.XObject
    widget.AP = pikepdf.Dictionary(N=chosen)
    if "/AS" in widget:
        del widget["/AS"]


# Form XObject resources -----------------------------------------------------------------------


def _prune_xobject_resources(doc: pikepdf.Pdf) -> bool:
    """Give each form XObject that lists XObjects it never draws its own /Resources listing
    only the ones it draws. True when any changed."""
    changed = False
    for obj in doc.objects:
        if not (isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Form):
            continue
        resources = obj.get("/Resources")
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        listed = resources.get("/XObject")
        if not isinstance(listed, pikepdf.Dictionary) or not listed.keys():
            continue
        try:
            drawn = _drawn_names(obj)
        except pikepdf.PdfError:
            continue  # content we cannot parse: leave it as it is
        unused = set(listed.keys()) - drawn
        if not unused:
            continue
        own = pikepdf.Dictionary({k: v for k, v in resources.items() if k != "/XObject"})
        own.XObject = pikepdf.Dictionary({k: v for k, v in listed.items() if k in drawn})
        obj.Resources = own
        changed = True
    return changed


def _drawn_names(form: pikepdf.Stream) -> set[str]:
    names = set()
    for instruction in pikepdf.parse_content_stream(form):
        if not isinstance(instruction, pikepdf.ContentStreamInstruction):
            continue  # an inline image draws nothing by name
        operands = instruction.operands
        if str(instruction.operator) == "Do" and operands:
            if isinstance(operands[0], pikepdf.Name):
                names.add(str(operands[0]))
    return names
