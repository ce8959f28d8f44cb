"""The visible page, and the way from what a person sees to PDF user space.

One function, :func:`visible_page`, says what a page looks like once displayed; the page
sizes recorded at upload, the page images' sizes, the certificate-ID stamp, box placement and
the check that a box lies on its page all use it, so they cannot disagree.

Boxes are placed on page images: units from the top-left corner of the page as displayed, y
downwards. PDF fields need a rectangle in the page's own user space (origin bottom-left of the
coordinate system, y upwards, before rotation).

Units: all sizes and positions are in the page's default user-space units, which are points
unless the page sets /UserUnit. /UserUnit scales a whole page uniformly on paper; it changes
neither the page image nor where a box sits on it, and a box's text is laid out in the same
units as its rectangle, so the viewer, placement and filling agree without scaling by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pikepdf

Rect = tuple[float, float, float, float]

# What readers assume for a page without a usable /MediaBox (US Letter, as PDFium does).
_DEFAULT_MEDIA_BOX: Rect = (0.0, 0.0, 612.0, 792.0)
_MAX_TREE_DEPTH = 64


@dataclass(frozen=True)
class VisiblePage:
    """A page as a reader displays it."""

    box: Rect
    """(x0, y0, x1, y1) in user space, x0 < x1 and y0 < y1: the crop box (inherited, default
    the media box) clipped to the media box (inherited). A crop box that does not overlap the
    media box is ignored, as PDFium does."""
    rotate: int
    """Clockwise turn on display: 0, 90, 180 or 270 (inherited /Rotate; an invalid one is 0)."""
    user_unit: float
    """/UserUnit (default 1): the size of a user-space unit in points on paper. Informational:
    see the module docstring for why sizes are not scaled by it."""

    @property
    def size(self) -> tuple[float, float]:
        """(width, height) as displayed, in user-space units."""
        x0, y0, x1, y1 = self.box
        width, height = x1 - x0, y1 - y0
        return (height, width) if self.rotate in (90, 270) else (width, height)

    def to_user(self, x: float, y: float, width: float, height: float) -> Rect:
        """The user-space rectangle (x1, y1, x2, y2) of a box placed on the displayed page at
        (x, y) from its top-left corner, y downwards."""
        ax, ay = self._point(x, y)
        bx, by = self._point(x + width, y + height)
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def contains(self, rect: Rect, *, slack: float = 0.5) -> bool:
        """Whether a user-space rectangle lies on the visible page (give or take ``slack``)."""
        x0, y0, x1, y1 = self.box
        return (
            rect[0] >= x0 - slack
            and rect[1] >= y0 - slack
            and rect[2] <= x1 + slack
            and rect[3] <= y1 + slack
        )

    def _point(self, u: float, v: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        if self.rotate == 90:
            return x0 + v, y0 + u
        if self.rotate == 180:
            return x1 - u, y0 + v
        if self.rotate == 270:
            return x1 - v, y1 - u
        return x0 + u, y1 - v


def visible_page(page: Any) -> VisiblePage:
    """The visible page of a page dictionary: pikepdf's or pyHanko's (both look up keys with
    ``in`` and ``[]``, which resolve indirect objects), or a :class:`pikepdf.Page`."""
    if isinstance(page, pikepdf.Page):
        page = page.obj
    media = _rect(_inherited(page, "/MediaBox")) or _DEFAULT_MEDIA_BOX
    crop = _rect(_inherited(page, "/CropBox")) or media
    box = (
        max(media[0], crop[0]),
        max(media[1], crop[1]),
        min(media[2], crop[2]),
        min(media[3], crop[3]),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        box = media
    return VisiblePage(box=box, rotate=_rotate(_inherited(page, "/Rotate")), user_unit=_unit(page))


def visible_pages(pdf: bytes) -> list[VisiblePage]:
    """The visible page of every page of a PDF."""
    with pikepdf.open(BytesIO(pdf)) as doc:
        return [visible_page(page) for page in doc.pages]


def _inherited(page: Any, key: str) -> Any:
    """``key`` from the page or its nearest ancestor in the page tree, or None."""
    node = page
    for _ in range(_MAX_TREE_DEPTH):
        if key in node:
            return node[key]
        if "/Parent" not in node:
            return None
        node = node["/Parent"]
    return None


def _rect(value: Any) -> Rect | None:
    try:
        a, b, c, d = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if a == c or b == d:
        return None
    return min(a, c), min(b, d), max(a, c), max(b, d)


def _rotate(value: Any) -> int:
    try:
        rotate = int(value) % 360 if value is not None else 0
    except (TypeError, ValueError):
        return 0
    return rotate if rotate in (0, 90, 180, 270) else 0  # readers ignore an invalid /Rotate


def _unit(page: Any) -> float:
    # /UserUnit is not inheritable.
    try:
        unit = float(page["/UserUnit"]) if "/UserUnit" in page else 1.0
    except (TypeError, ValueError):
        return 1.0
    return unit if unit > 0 else 1.0
