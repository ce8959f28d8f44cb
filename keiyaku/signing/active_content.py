"""Active content: what a PDF reader would run, open, send, play or fetch besides showing pages.

Every party receives the signed file by e-mail and opens it in whatever reader they have, so a
script or a Launch action in an upload would run on their machine inside a file that carries the
organisation's signature (issue 10, finding 3). Ingest therefore strips, before the one rewrite:

- JavaScript: the document's /Names /JavaScript tree and every JavaScript action wherever an
  action can sit (ISO 32000-1 §12.6: /OpenAction, /AA of the catalog, pages, annotations and form
  fields, /A of annotations, fields and outline items, /Next chains), and a Rendition's /JS.
- Actions that reach outside the file (§12.6.4): Launch, GoToR, GoToE, SubmitForm, ImportData,
  and any action naming another file (/F); a URI run automatically (/OpenAction, /AA).
- Every other action that runs by itself or changes what is shown (Named, Hide, SetOCGState,
  ResetForm, Trans …), and every /AA (additional-actions) dictionary whole: a contract needs
  no trigger.
- Embedded files (§7.11.4): the /EmbeddedFiles name tree, the /EF of every file specification,
  associated files (/AF, PDF 2.0 §14.13) and FileAttachment annotations.
- Multimedia (§12.6.4.9–13, §13): Sound, Movie, Screen, RichMedia and 3D annotations, the
  Rendition, Sound, Movie, RichMediaExecute and GoTo3DView actions, and the /Renditions and
  /AlternatePresentations name trees.
- XFA (§12.7.8): /AcroForm /XFA and the catalog's /NeedsRendering, so that every reader shows
  the PDF pages the parties saw and signed (finding 3, finding 9).

A /OpenAction that is only a destination in this file (an explicit destination, a named one,
or a GoTo action without /Next) is kept and not recorded: it only chooses the page and zoom a
reader opens at, and LibreOffice writes one into every export, so removing it would flag
ordinary files. Bookmarks (outline items) that go to a page of the file are kept for the same
reason. Ordinary links are kept only when ``keep_links`` is true (the organisation's setting
``Organisation.keep_pdf_links``): Link annotations with /Dest or a GoTo or URI action, and URI
and GoTo actions of buttons and bookmarks.

Two kinds are refused instead (`refusal`): a dynamic XFA form whose pages are only Adobe's
placeholder, and a PDF portfolio, because in both what the parties would see and sign is not the
document; stripping would leave only the cover.

This module knows nothing of Django; ingest maps `Removed` to its `IngestChange` members.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from typing import Any

import pikepdf


class Removed(enum.StrEnum):
    """What `strip_active_content` removed; the values are `ingest.IngestChange` values."""

    JAVASCRIPT = "javascript_removed"
    EXTERNAL_ACTIONS = "external_actions_removed"
    ACTIONS = "actions_removed"
    EMBEDDED_FILES = "embedded_files_removed"
    MULTIMEDIA = "multimedia_removed"
    LINKS = "links_removed"
    XFA = "xfa_removed"


_EXTERNAL = frozenset({"/Launch", "/GoToR", "/GoToE", "/SubmitForm", "/ImportData"})
_MULTIMEDIA_ACTIONS = frozenset(
    {"/Sound", "/Movie", "/Rendition", "/RichMediaExecute", "/GoTo3DView"}
)
# Annotations that play, embed or run something (§12.5.6.15, .16, .18, PDF 2.0 §13.6, 13.7).
_ACTIVE_ANNOTATIONS = {
    "/FileAttachment": Removed.EMBEDDED_FILES,
    "/Sound": Removed.MULTIMEDIA,
    "/Movie": Removed.MULTIMEDIA,
    "/Screen": Removed.MULTIMEDIA,
    "/RichMedia": Removed.MULTIMEDIA,
    "/3D": Removed.MULTIMEDIA,
}
# What such an annotation carries, dropped also where it stays reachable (e.g. from the
# structure tree) after it left the page.
_ANNOTATION_PAYLOAD = ("/FS", "/Sound", "/Movie", "/RichMediaContent", "/RichMediaSettings", "/3DD")
_NAME_TREES = {
    "/JavaScript": Removed.JAVASCRIPT,
    "/EmbeddedFiles": Removed.EMBEDDED_FILES,
    "/AlternatePresentations": Removed.MULTIMEDIA,
    "/Renditions": Removed.MULTIMEDIA,
}
_MAX_CHAIN = 64  # /Next chains and name trees deeper than this are damage, not documents


def refusal(pdf: pikepdf.Pdf) -> str | None:
    """Why ingest must refuse this file instead of stripping it, as a RefusedUpload code.

    ``"xfa_only"``: a dynamic XFA form (/AcroForm /XFA with the catalog's /NeedsRendering
    true) that has no AcroForm field: no /Fields and no Widget annotation on any page. Told by
    structure, not by the page text: /NeedsRendering tells a reader to build the pages from the
    XFA (ISO 32000-1 §12.7.8, XFA 3.3 "dynamic forms"), so the PDF pages are a fallback
    nobody filled in, and with no field nothing of the form's data is in the PDF layer. The
    placeholder's wording ("… requires Adobe Reader 8 or higher", 「しばらくお待ちください」)
    depends on the language and can be changed by the author, so matching it would miss some.
    ``"portfolio"``: a PDF portfolio (/Collection, §12.3.5) with embedded files; its page is a
    cover and the documents are the attachments ingest would remove.
    None: strip and keep (`strip_active_content`).
    """
    root = pdf.Root
    acroform = root.get("/AcroForm")
    if (
        isinstance(acroform, pikepdf.Dictionary)
        and "/XFA" in acroform
        and root.get("/NeedsRendering") is True
        and not _has_fields(pdf, acroform)
    ):
        return "xfa_only"
    names = root.get("/Names")
    if (
        "/Collection" in root
        and isinstance(names, pikepdf.Dictionary)
        and _name_tree_has_entries(names.get("/EmbeddedFiles"))
    ):
        return "portfolio"
    return None


def strip_active_content(pdf: pikepdf.Pdf, *, keep_links: bool) -> tuple[Removed, ...]:
    """Remove the active content listed in the module docstring from ``pdf``, in place.

    ``keep_links``: keep Link annotations and URI/GoTo actions of buttons and bookmarks
    (the organisation's ``keep_pdf_links``); false removes them and records `Removed.LINKS`.
    Returns what was removed, each kind once, in `Removed` order; empty when nothing was.
    Call `refusal` first: this function removes XFA whatever its kind. Every object of the
    file is visited, reachable or not, so nothing active survives through a second reference.
    """
    found: set[Removed] = set()
    root = pdf.Root
    _strip_catalog(root, found)
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            for dictionary in _dictionaries(obj):
                _strip_dictionary(dictionary, keep_links=keep_links, found=found)
    return tuple(kind for kind in Removed if kind in found)


def _strip_catalog(root: pikepdf.Object, found: set[Removed]) -> None:
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key, kind in _NAME_TREES.items():
            if key in names:
                if _name_tree_has_entries(names.get(key)):
                    found.add(kind)
                del names[key]
    acroform = root.get("/AcroForm")
    if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
        del acroform["/XFA"]
        found.add(Removed.XFA)
    if "/NeedsRendering" in root:
        del root["/NeedsRendering"]
    if "/Collection" in root:  # a portfolio's layout, pointless without its files
        del root["/Collection"]
    opening = root.get("/OpenAction")
    if opening is not None and not _is_destination(opening):
        if isinstance(opening, pikepdf.Dictionary) and _action_type(opening) == "/GoTo":
            _drop_next(opening, found)
        else:
            _record_actions(opening, found, automatic=True)
            del root["/OpenAction"]


# The keys `_strip_dictionary` acts on; a dictionary with none of them is left at once (one
# call into qpdf for its keys instead of one per key: a 600-page file has thousands).
_WATCHED_KEYS = frozenset({"/AA", "/Subtype", "/A", "/PA", "/Dest", "/EF", "/RF", "/AF", "/Annots"})


def _strip_dictionary(d: pikepdf.Object, *, keep_links: bool, found: set[Removed]) -> None:
    if _WATCHED_KEYS.isdisjoint(d.keys()):
        return
    if "/AA" in d:
        triggers = d.get("/AA")
        if isinstance(triggers, pikepdf.Dictionary):
            for triggered in triggers.values():
                _record_actions(triggered, found, automatic=True)
        del d["/AA"]
    subtype = d.get("/Subtype")
    active = _ACTIVE_ANNOTATIONS.get(str(subtype)) if subtype is not None else None
    if active is not None and "/Rect" in d:
        for key in _ANNOTATION_PAYLOAD:
            if key in d:
                del d[key]
    for key in ("/A", "/PA"):
        action = d.get(key)
        if isinstance(action, pikepdf.Dictionary) and "/S" in action:
            if _keep_action(d, action, keep_links=keep_links):
                _drop_next(action, found)
            else:
                _record_actions(action, found, automatic=False)
                del d[key]
    if subtype == pikepdf.Name.Link and not keep_links and "/Dest" in d:
        del d["/Dest"]
        found.add(Removed.LINKS)
    if "/EF" in d:
        del d["/EF"]
        found.add(Removed.EMBEDDED_FILES)
    if "/RF" in d:
        del d["/RF"]
    if "/AF" in d:
        files = d.get("/AF")
        if not isinstance(files, pikepdf.Array) or len(files):
            found.add(Removed.EMBEDDED_FILES)
        del d["/AF"]
    annots = d.get("/Annots")
    if isinstance(annots, pikepdf.Array):
        _filter_annotations(annots, keep_links=keep_links, found=found)


def _filter_annotations(annots: pikepdf.Array, *, keep_links: bool, found: set[Removed]) -> None:
    kept: list[pikepdf.Object] = []
    dropped: list[pikepdf.Object] = []
    for annot in annots:
        if not isinstance(annot, pikepdf.Dictionary):
            kept.append(annot)
            continue
        subtype = str(annot.get("/Subtype", ""))
        if subtype in _ACTIVE_ANNOTATIONS:
            found.add(_ACTIVE_ANNOTATIONS[subtype])
            dropped.append(annot)
        elif subtype == "/Link" and not keep_links:
            found.add(Removed.LINKS)
            dropped.append(annot)
        else:
            kept.append(annot)
    if not dropped:
        return
    # A pop-up belongs to the annotation it opens from; it goes with it.
    kept = [a for a in kept if not _parent_in(a, dropped)]
    annots[:] = kept  # type: ignore[index]


def _parent_in(annot: pikepdf.Object, dropped: list[pikepdf.Object]) -> bool:
    if not isinstance(annot, pikepdf.Dictionary) or annot.get("/Subtype") != pikepdf.Name.Popup:
        return False
    parent = annot.get("/Parent")
    gone = {a.objgen for a in dropped if a.is_indirect}
    return isinstance(parent, pikepdf.Dictionary) and parent.is_indirect and parent.objgen in gone


def _keep_action(holder: pikepdf.Object, action: pikepdf.Dictionary, *, keep_links: bool) -> bool:
    kind = _action_type(action)
    if kind == "/URI":
        return keep_links
    if kind != "/GoTo":
        return False
    # A bookmark to a page of this file is navigation, kept whatever the link setting.
    is_outline_item = "/Title" in holder and "/Subtype" not in holder
    return keep_links or is_outline_item


def _drop_next(action: pikepdf.Dictionary, found: set[Removed]) -> None:
    if "/Next" in action:
        _record_actions(action.get("/Next"), found, automatic=True)
        del action["/Next"]


def _record_actions(first: object, found: set[Removed], *, automatic: bool) -> None:
    """Add what kinds of action ``first`` and its /Next chain hold to ``found``."""
    for action in _chain(first):
        kind = _action_type(action)
        if kind == "/JavaScript" or "/JS" in action:
            found.add(Removed.JAVASCRIPT)
        if kind == "/JavaScript":
            continue
        if kind in _EXTERNAL or "/F" in action or (kind == "/URI" and automatic):
            found.add(Removed.EXTERNAL_ACTIONS)
        elif kind in _MULTIMEDIA_ACTIONS:
            found.add(Removed.MULTIMEDIA)
        elif kind == "/URI" or (kind == "/GoTo" and not automatic):
            found.add(Removed.LINKS)
        else:
            found.add(Removed.ACTIONS)


def _chain(first: object) -> Iterator[pikepdf.Dictionary]:
    """The actions of a /Next chain (one action, or an array of actions, each with its own
    /Next), depth first, each object once."""
    stack = [first]
    seen: set[tuple[int, int]] = set()
    steps = 0
    while stack and steps < _MAX_CHAIN * _MAX_CHAIN:
        steps += 1
        item = stack.pop()
        if isinstance(item, pikepdf.Array):
            stack.extend(reversed(list(item)))
            continue
        if not isinstance(item, pikepdf.Dictionary):
            continue
        if item.is_indirect:
            if item.objgen in seen:
                continue
            seen.add(item.objgen)
        yield item
        if "/Next" in item:
            stack.append(item.get("/Next"))


def _action_type(action: pikepdf.Dictionary) -> str:
    kind = action.get("/S")
    return str(kind) if isinstance(kind, pikepdf.Name) else ""


def _is_destination(value: object) -> bool:
    """An explicit (array) or named (name or string) destination, §12.3.2."""
    return isinstance(value, pikepdf.Array | pikepdf.Name | pikepdf.String | str)


def _dictionaries(obj: pikepdf.Object) -> Iterator[pikepdf.Object]:
    """``obj`` (a dictionary, or a stream's dictionary) and every dictionary held directly
    inside it, however deeply nested in direct dictionaries and arrays. Indirect children are
    not followed: every indirect object is visited on its own."""
    stack = [obj]
    while stack:
        item = stack.pop()
        children: Iterable[Any]
        if isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
            yield item
            children = item.values()
        elif isinstance(item, pikepdf.Array):
            children = item
        else:
            continue
        stack.extend(
            child
            for child in children
            if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect
        )


def _has_fields(pdf: pikepdf.Pdf, acroform: pikepdf.Dictionary) -> bool:
    fields = acroform.get("/Fields")
    if isinstance(fields, pikepdf.Array) and len(fields):
        return True
    for page in pdf.pages:
        for annot in page.obj.get("/Annots", pikepdf.Array()):
            if isinstance(annot, pikepdf.Dictionary) and annot.get("/Subtype") == (
                pikepdf.Name.Widget
            ):
                return True
    return False


def _name_tree_has_entries(node: object, depth: int = 0) -> bool:
    """A name tree (§7.9.6) with at least one entry."""
    if not isinstance(node, pikepdf.Dictionary) or depth > _MAX_CHAIN:
        return False
    names = node.get("/Names")
    if isinstance(names, pikepdf.Array) and len(names) >= 2:
        return True
    kids = node.get("/Kids")
    return isinstance(kids, pikepdf.Array) and any(
        _name_tree_has_entries(kid, depth + 1) for kid in kids
    )
