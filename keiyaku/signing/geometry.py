"""From what a person sees to PDF user space.

Boxes are placed on page images: points from the top-left corner of the page as displayed
(the crop box, /Rotate applied), y downwards. PDF fields need a rectangle in the page's own
user space (origin bottom-left of the coordinate system, y upwards, before rotation).
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

import pikepdf

Rect = tuple[float, float, float, float]


def _point(u: float, v: float, crop: Rect, rotate: int) -> tuple[float, float]:
    x0, y0, x1, y1 = crop
    if rotate == 90:
        return x0 + v, y0 + u
    if rotate == 180:
        return x1 - u, y0 + v
    if rotate == 270:
        return x1 - v, y1 - u
    return x0 + u, y1 - v


def displayed_to_user(
    x: float, y: float, width: float, height: float, *, crop: Rect, rotate: int
) -> Rect:
    """The user-space rectangle (x1, y1, x2, y2) of a box placed on the displayed page."""
    ax, ay = _point(x, y, crop, rotate % 360)
    bx, by = _point(x + width, y + height, crop, rotate % 360)
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def page_geometry(pdf: bytes) -> list[tuple[Rect, int]]:
    """(crop box, rotation) of every page, as `displayed_to_user` needs them."""
    with pikepdf.open(BytesIO(pdf)) as doc:
        result = []
        for page in doc.pages:
            box = [float(v) for v in page.cropbox]
            crop: Rect = (
                min(box[0], box[2]),
                min(box[1], box[3]),
                max(box[0], box[2]),
                max(box[1], box[3]),
            )
            rotate = int(page.obj.get("/Rotate", 0)) % 360
            result.append((crop, rotate))
        return result


def displayed_size(crop: Sequence[float], rotate: int) -> tuple[float, float]:
    width, height = crop[2] - crop[0], crop[3] - crop[1]
    return (height, width) if rotate % 180 == 90 else (width, height)
