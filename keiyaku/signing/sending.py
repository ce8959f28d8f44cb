"""The PDF work of 「送信」, in a budgeted child (issue 12, acceptance 5).

Sending prints the certificate ID on page 1 (`ingest.stamp_certificate_id`, a full rewrite by
qpdf) and adds every field (`engine.prepare`, one incremental revision). Done in the web
process, that held the stored file, the stamped file and the prepared file, two or three at a
time, plus what qpdf buffers of the largest stream: 2.3× a 50 MB scanned contract, 3.8× an
18 MB file whose bulk is one image. In a child (`keiyaku.signing.budget`, under the ingest's
budget: the same kind of work on the same files) the web process holds the stored file it
sends and the prepared file it gets back, about 2× the file, and no PDF library runs in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keiyaku.signing import budget, engine
from keiyaku.signing.boxes import BoxSpec
from keiyaku.signing.geometry import visible_pages

__all__ = ["PlacedBox", "prepare_for_sending"]


@dataclass(frozen=True)
class PlacedBox:
    """A box as staff placed it on the displayed page (`contracts.models.Box`'s fields)."""

    name: str
    """Field name (``Box.field_name``)."""
    page: int
    """1-based page number."""
    x: float
    y: float
    width: float
    height: float
    """Position and size on the page as displayed, in its user-space units (points unless
    /UserUnit), from its top-left corner, y downwards (`geometry.VisiblePage.to_user`)."""
    kind: str
    """One of `boxes.KINDS`."""


def prepare_for_sending(
    pdf: bytes, *, certificate_id: str, field_names: Sequence[str], boxes: Sequence[PlacedBox]
) -> bytes:
    """The PDF sent for signing, made from the stored version ``pdf``: 「締結証明書ID:
    ``certificate_id``」 printed on page 1, then one empty signature field per name in
    ``field_names`` and one form field per box, in one revision (DESIGN.md, signing step 2).

    Runs in a child process under the ingest budget (`ingest.ingest_limits`); the PDF crosses
    to and from it unpickled. Raises what the child raised (`fonts.MissingGlyphError`,
    ValueError for a field name or box the engine refuses, IndexError for a box on a page the
    file lacks, pikepdf and pyHanko errors for a file they cannot read) and
    `budget.BudgetExceeded` past the budget.
    """
    from keiyaku.signing.ingest import ingest_limits

    return budget.run(
        _prepared,
        pdf,
        certificate_id,
        tuple(field_names),
        tuple(boxes),
        limits=ingest_limits(),
    )


def _prepared(
    pdf: bytes, certificate_id: str, field_names: tuple[str, ...], boxes: tuple[PlacedBox, ...]
) -> bytes:
    from keiyaku.signing.ingest import stamp_certificate_id

    data = stamp_certificate_id(pdf, certificate_id)
    pages = visible_pages(data)
    specs = [
        BoxSpec(
            name=box.name,
            page_index=box.page - 1,
            rect=pages[box.page - 1].to_user(box.x, box.y, box.width, box.height),
            kind=box.kind,
        )
        for box in boxes
    ]
    return engine.prepare(data, field_names=field_names, boxes=specs)
