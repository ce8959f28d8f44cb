"""Staff-placed boxes as read-only PDF form fields, and their values drawn in IPAex Gothic.

Knows nothing of Django. Two halves, both working on a pyHanko ``IncrementalPdfFileWriter``
the engine owns (so each lands in the engine's single revision):

- :func:`add_box_fields` at send time, before any signature: one field per box, merged with
  its widget, with an empty appearance (a checkbox gets its /Off and /Yes appearances now).
- :func:`fill_box_fields` in a party's signing revision: /V and a new /AP /N stream per text
  box, /V and /AS for a checkbox. Those are exactly the changes pyHanko's difference analysis
  calls form filling, so earlier signatures stay valid.

Text is drawn with a subset of the embedded font as a Type0/CIDFontType2 font (Identity-H,
one CID per character, mapped to the subset's glyphs by a CIDToGIDMap, with a ToUnicode
CMap so the values can be extracted and searched). One CID per character rather than per
glyph: the font draws some characters with one glyph (- and ‐, − and the soft hyphen), and
text extraction must still give back the character that was typed. The subset itself is built by :mod:`keiyaku.signing.font_subset`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string

from keiyaku.fonts import require_glyphs
from keiyaku.signing.font_subset import FontSubset, font_metrics, pdf_stream, text_width
from keiyaku.signing.geometry import visible_page

if TYPE_CHECKING:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

__all__ = [
    "CHECKBOX",
    "DATE",
    "KINDS",
    "MULTILINE",
    "TEXT",
    "BoxOverflow",
    "BoxSpec",
    "add_box_fields",
    "fill_box_fields",
]

TEXT = "text"
MULTILINE = "multiline"
DATE = "date"
CHECKBOX = "checkbox"
KINDS = (TEXT, MULTILINE, DATE, CHECKBOX)

CHECKED_VALUES = frozenset({"1", "true"})
UNCHECKED_VALUES = frozenset({"0", "false", ""})

_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Field flags (ISO 32000-1, tables 221 and 228).
_FF_READ_ONLY = 1
_FF_MULTILINE = 1 << 12
_ANNOT_PRINT = 4
# The resource name of our font in every appearance stream; /DA records the size with it.
_FONT_RESOURCE = "/KeiyakuJP"
_DA = re.compile(rb"/\S+\s+([0-9]*\.?[0-9]+)\s+Tf")
_PADDING = 2.0
_LINE_SPACING = 1.2
_CHECK_MARK = "✓"
# Appearance /Matrix that turns an upright (as displayed) drawing into the page's user space
# for each /Rotate: the annotation's box is then filled the right way up.
_ROTATIONS = {0: (1, 0, 0, 1), 90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}
# A run of printable ASCII is a word: wrap before it rather than inside it when it fits.
_TOKEN = re.compile(r"[!-~]+|.", re.S)


@dataclass(frozen=True)
class BoxSpec:
    """One box a staff member placed on a page, to be created as a form field."""

    name: str
    """Field name, ``[A-Za-z0-9_-]{1,64}``, unique in the document (e.g. ``keiyaku-box-12``)."""
    page_index: int
    """0-based page number."""
    rect: tuple[float, float, float, float]
    """(x1, y1, x2, y2) in the page's user space in points (the widget's /Rect as is)."""
    kind: str
    """One of :data:`KINDS`: ``text``, ``multiline``, ``date`` (a single-line text the caller
    formats) or ``checkbox``."""
    font_size: float = 10.5
    """Text size in points; stored in the field's /DA and used when the box is filled."""

    def __post_init__(self) -> None:
        if not _FIELD_NAME.match(self.name):
            raise ValueError(f"invalid box name {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"box {self.name}: unknown kind {self.kind!r}")
        if self.page_index < 0:
            raise ValueError(f"box {self.name}: negative page index")
        x1, y1, x2, y2 = self.rect
        if not (x2 > x1 and y2 > y1):
            raise ValueError(f"box {self.name}: rect must be (x1, y1, x2, y2) with x1<x2, y1<y2")
        if not 1 <= self.font_size <= 72:
            raise ValueError(f"box {self.name}: font size must be between 1 and 72 points")


class BoxOverflow(ValueError):
    """A value does not fit its box (even after wrapping a multi-line box); nothing is cut."""

    def __init__(self, field_name: str, detail: str) -> None:
        self.field_name = field_name
        super().__init__(f"box {field_name}: the value does not fit ({detail})")


# --- preparing --------------------------------------------------------------------------------


def add_box_fields(writer: IncrementalPdfFileWriter, boxes: Sequence[BoxSpec]) -> None:
    """Add one read-only field (merged with its widget) per box; the AcroForm must exist.

    Text boxes get an empty appearance. A checkbox gets its /Off (an empty square) and /Yes (the
    square with a check mark) appearances now, so that checking it later only changes /V and /AS.
    """
    names = [box.name for box in boxes]
    if len(set(names)) != len(names):
        raise ValueError("box names must be unique")
    form = writer.root["/AcroForm"]
    fields = form["/Fields"]
    existing = {str(ref.get_object().get("/T")) for ref in fields}
    if existing & set(names):
        raise ValueError(f"fields already present: {sorted(existing & set(names))}")
    page_count = int(writer.root["/Pages"]["/Count"])
    check_font: FontSubset | None = None
    for box in boxes:
        if box.page_index >= page_count:
            raise ValueError(f"box {box.name}: page {box.page_index} does not exist")
        page_ref, _ = writer.find_page_for_modification(box.page_index)
        _require_on_page(box, page_ref.get_object())
        rotate = _rotation(page_ref.get_object())
        width, height = _upright_size(box.rect, rotate)
        field = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/T"): pdf_string(box.name),
                pdf_name("/F"): generic.NumberObject(_ANNOT_PRINT),
                pdf_name("/P"): page_ref,
                pdf_name("/Rect"): generic.ArrayObject(generic.FloatObject(v) for v in box.rect),
            }
        )
        if box.kind == CHECKBOX:
            if check_font is None:
                check_font = FontSubset.build(writer, _CHECK_MARK) if _has_check_mark() else None
            field[pdf_name("/FT")] = pdf_name("/Btn")
            field[pdf_name("/Ff")] = generic.NumberObject(_FF_READ_ONLY)
            field[pdf_name("/AS")] = pdf_name("/Off")
            states = generic.DictionaryObject(
                {
                    pdf_name("/Off"): _appearance(
                        writer, width, height, _square(width, height), None, rotate
                    ),
                    pdf_name("/Yes"): _check_appearance(writer, width, height, check_font, rotate),
                }
            )
            field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): states})
        else:
            flags = _FF_READ_ONLY | (_FF_MULTILINE if box.kind == MULTILINE else 0)
            field[pdf_name("/FT")] = pdf_name("/Tx")
            field[pdf_name("/Ff")] = generic.NumberObject(flags)
            field[pdf_name("/DA")] = pdf_string(f"{_FONT_RESOURCE} {box.font_size:g} Tf 0 g")
            field[pdf_name("/AP")] = generic.DictionaryObject(
                {pdf_name("/N"): _appearance(writer, width, height, b"", None, rotate)}
            )
        field_ref = writer.add_object(field)
        fields.append(field_ref)
        writer.register_annotation(page_ref, field_ref)
    writer.update_container(fields)


def _require_on_page(box: BoxSpec, page: generic.DictionaryObject) -> None:
    visible = visible_page(page)
    if not visible.contains(box.rect):
        raise ValueError(f"box {box.name}: rect {box.rect} lies outside the page {visible.box}")


def _rotation(page: generic.DictionaryObject) -> int:
    return visible_page(page).rotate


def _upright_size(rect: Sequence[float], rotate: int) -> tuple[float, float]:
    """(width, height) of a widget as the reader sees it on the displayed page."""
    width, height = abs(rect[2] - rect[0]), abs(rect[3] - rect[1])
    return (height, width) if rotate in (90, 270) else (width, height)


def _check_appearance(
    writer: IncrementalPdfFileWriter,
    width: float,
    height: float,
    font: FontSubset | None,
    rotate: int,
) -> generic.IndirectObject:
    side = min(width, height)
    square = _square(width, height)
    if font is not None:
        size = side * 0.7
        advance = font.width(_CHECK_MARK) * size / 1000
        x = (width - advance) / 2
        y = (height - (font.ascent - font.descent) * size / 1000) / 2 - font.descent * size / 1000
        ops = square + b" q BT %s %s Tf 0 g %s %s Td %s Tj ET Q" % (
            _name(_FONT_RESOURCE),
            _num(size),
            _num(x),
            _num(y),
            font.encode(_CHECK_MARK),
        )
        return _appearance(writer, width, height, ops, font, rotate)
    # No check mark glyph: an X drawn with lines.
    inset = side * 0.25
    ops = square + b" q 0 G %s w %s %s m %s %s l S %s %s m %s %s l S Q" % (
        _num(max(side * 0.08, 0.5)),
        _num(inset),
        _num(inset),
        _num(width - inset),
        _num(height - inset),
        _num(inset),
        _num(height - inset),
        _num(width - inset),
        _num(inset),
    )
    return _appearance(writer, width, height, ops, None, rotate)


def _square(width: float, height: float) -> bytes:
    """The outline of a checkbox: a square centred in the box, so unchecked reads as ☐."""
    side = min(width, height)
    line = max(side * 0.06, 0.5)
    edge = side - line
    return b"q 0 G %s w %s %s %s %s re S Q" % (
        _num(line),
        _num((width - edge) / 2),
        _num((height - edge) / 2),
        _num(edge),
        _num(edge),
    )


@cache
def _has_check_mark() -> bool:
    from keiyaku.fonts import missing_glyphs

    return not missing_glyphs(_CHECK_MARK)


# --- filling ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    name: str
    ref: generic.IndirectObject
    field: generic.DictionaryObject
    kind: str
    value: str
    font_size: float
    width: float
    """As displayed (page /Rotate applied), like ``height``."""
    height: float
    rotate: int


def fill_box_fields(writer: IncrementalPdfFileWriter, values: Mapping[str, str]) -> None:
    """Set each named box's value and appearance in ``writer``'s revision.

    Everything is checked before the writer is touched: an unknown name, a box already
    filled (by this or an earlier party), a signature field, an unusable checkbox value or
    a line break in a single-line box raise ``ValueError``; characters the font lacks raise
    :class:`~keiyaku.fonts.MissingGlyphError`; a value that does not fit raises
    :class:`BoxOverflow`.
    """
    targets = [_target(writer, name, value) for name, value in values.items()]
    require_glyphs("".join(t.value for t in targets if t.kind != CHECKBOX))
    layouts = {t.name: _layout(t) for t in targets if t.kind != CHECKBOX and t.value}
    text = "".join("".join(lines) for lines in layouts.values())
    font = FontSubset.build(writer, text) if text else None
    for target in targets:
        field = target.field
        if target.kind == CHECKBOX:
            state = pdf_name("/Yes" if target.value.lower() in CHECKED_VALUES else "/Off")
            field[pdf_name("/V")] = state
            field[pdf_name("/AS")] = state
        else:
            field[pdf_name("/V")] = pdf_string(target.value)
            lines = layouts.get(target.name)
            if lines:
                assert font is not None
                ops = _text_ops(font, lines, target)
                stream = _appearance(writer, target.width, target.height, ops, font, target.rotate)
                field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): stream})
        writer.mark_update(target.ref)


def _target(writer: IncrementalPdfFileWriter, name: str, value: str) -> _Target:
    if not isinstance(value, str):
        raise ValueError(f"box {name}: the value must be a string")
    try:
        fields = writer.root["/AcroForm"]["/Fields"]
    except KeyError:
        raise ValueError(f"no box {name!r}: the document has no form") from None
    for ref in fields:
        field = ref.get_object()
        if str(field.get("/T")) == name:
            break
    else:
        raise ValueError(f"no box {name!r} in the document")
    field_type = field.get("/FT")
    flags = int(field.get("/Ff", 0))
    if field_type == "/Btn":
        kind = CHECKBOX
        if value.strip().lower() not in CHECKED_VALUES | UNCHECKED_VALUES:
            raise ValueError(f"box {name}: a checkbox takes 1/true or 0/false, not {value!r}")
    elif field_type == "/Tx":
        kind = MULTILINE if flags & _FF_MULTILINE else TEXT
        value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
        if kind == TEXT and "\n" in value:
            raise ValueError(f"box {name}: a single-line box cannot hold a line break")
    else:
        raise ValueError(f"{name!r} is not a box (field type {field_type})")
    if "/V" in field:
        raise ValueError(f"box {name} is already filled")
    match = _DA.search(str(field.get("/DA", "")).encode())
    page = field.get("/P")
    rotate = _rotation(page.get_object()) if page is not None else 0
    width, height = _upright_size(tuple(float(v) for v in field["/Rect"]), rotate)
    return _Target(
        name=name,
        ref=ref,
        field=field,
        kind=kind,
        value=value.strip().lower() if kind == CHECKBOX else value,
        font_size=float(match.group(1)) if match else 10.5,
        width=width,
        height=height,
        rotate=rotate,
    )


def _layout(target: _Target) -> list[str]:
    """The lines to draw; raises BoxOverflow if they do not fit."""
    font = font_metrics()
    size = target.font_size
    room = target.width - 2 * _PADDING
    if target.kind == MULTILINE:
        lines = [line for para in target.value.split("\n") for line in _wrap(para, room, size)]
        if any(text_width(line, size) > room for line in lines):
            raise BoxOverflow(target.name, "a single character is wider than the box")
    else:
        lines = [target.value]
        needed = text_width(target.value, size)
        if needed > room:
            raise BoxOverflow(target.name, f"{needed:.1f}pt of text in {room:.1f}pt of width")
    height = (font.ascent - font.descent) * size / 1000 + (len(lines) - 1) * size * _LINE_SPACING
    if height > target.height - (2 * _PADDING if target.kind == MULTILINE else 0):
        raise BoxOverflow(
            target.name, f"{len(lines)} line(s) need {height:.1f}pt, box is {target.height:.1f}pt"
        )
    return lines


def _wrap(paragraph: str, room: float, size: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for token in _TOKEN.findall(paragraph):
        if text_width(current + token, size) <= room:
            current += token
            continue
        if current:
            lines.append(current.rstrip(" "))
            current = ""
        token = token.lstrip(" ")  # a wrapped line does not start with a space
        # A word longer than a line is broken where it must be.
        for char in token:
            if current and text_width(current + char, size) > room:
                lines.append(current)
                current = ""
            current += char
    lines.append(current)
    return lines


def _text_ops(font: FontSubset, lines: Sequence[str], target: _Target) -> bytes:
    size = target.font_size
    leading = size * _LINE_SPACING
    ascent, descent = font.ascent * size / 1000, font.descent * size / 1000
    if target.kind == MULTILINE:  # from the top, like a paragraph
        baseline = target.height - _PADDING - ascent
    else:  # centred vertically on the line the box was placed over
        baseline = (target.height - (ascent - descent)) / 2 - descent
    ops = [
        b"/Tx BMC q BT %s %s Tf %s TL 0 g %s %s Td"
        % (_name(_FONT_RESOURCE), _num(size), _num(leading), _num(_PADDING), _num(baseline))
    ]
    for number, line in enumerate(lines):
        if number:
            ops.append(b"T*")
        if line:
            ops.append(font.encode(line) + b" Tj")
    ops.append(b"ET Q EMC")
    return b"\n".join(ops)


# --- PDF object helpers ---------------------------------------------------------------------


def _appearance(
    writer: IncrementalPdfFileWriter,
    width: float,
    height: float,
    ops: bytes,
    font: FontSubset | None,
    rotate: int = 0,
) -> generic.IndirectObject:
    """A form XObject ``width`` x ``height`` (as displayed), turned for the page's /Rotate."""
    resources = generic.DictionaryObject()
    if font is not None:
        resources[pdf_name("/Font")] = generic.DictionaryObject(
            {pdf_name(_FONT_RESOURCE): font.ref}
        )
    stream = pdf_stream(
        ops,
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(
                generic.FloatObject(v) for v in (0, 0, width, height)
            ),
            pdf_name("/Resources"): resources,
        },
    )
    if rotate:
        stream[pdf_name("/Matrix")] = generic.ArrayObject(
            generic.NumberObject(v) for v in (*_ROTATIONS[rotate], 0, 0)
        )
    return writer.add_object(stream)


def _name(name: str) -> bytes:
    return name.encode("ascii")


def _num(value: float) -> bytes:
    return (f"{value:.3f}".rstrip("0").rstrip(".") or "0").encode("ascii")


def check_fits(
    *, name: str, kind: str, value: str, width: float, height: float, font_size: float = 10.5
) -> None:
    """Apply the filling rules to a value before anything is recorded.

    `width` and `height` are the box's size as displayed. Raises ValueError (line break in a
    single-line box), MissingGlyphError or BoxOverflow exactly as filling would.
    """
    if kind == CHECKBOX or not value:
        return
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if kind != MULTILINE and "\n" in value:
        raise ValueError(f"box {name}: a single-line box cannot hold a line break")
    require_glyphs(value)
    target = _Target(
        name=name,
        ref=None,  # type: ignore[arg-type]
        field=None,  # type: ignore[arg-type]
        kind=MULTILINE if kind == MULTILINE else TEXT,
        value=value,
        font_size=font_size,
        width=width,
        height=height,
        rotate=0,
    )
    _layout(target)
