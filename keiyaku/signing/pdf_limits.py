"""Resource limits on an uploaded PDF, checked before anything decodes or renders it whole.

Issue 10, finding 4: a 408 KB file with one 400 MB Flate stream was accepted, and a page far
beyond PDF's own size limit ended in ``MemoryError``. `check_limits` runs right after the file
is opened (``ingest._normalise``) and refuses, with a Japanese message naming the limit:

- ``too_many_pages``: more pages than ``KEIYAKU_MAX_PAGES``;
- ``page_too_large``: a page whose visible box (`geometry.visible_page`) is wider or taller
  than ``KEIYAKU_MAX_PAGE_POINTS``, in user-space units or on paper (units × /UserUnit);
- ``stream_too_large``: a stream, or an inline image in a content stream, that decodes to more
  than ``KEIYAKU_MAX_STREAM_BYTES``;
- ``file_too_large_decoded``: all streams together decode to more than
  ``KEIYAKU_MAX_DECODED_BYTES``;
- ``too_many_drawings``: a page that draws form XObjects more than ``KEIYAKU_MAX_FORM_DRAWS``
  times once every form inside a form is counted (`_FormDraws`). A form that draws another
  twelve times, nine levels deep, is 2.7 KB and five billion drawings: PDFium expands every
  drawing of a form when it loads the page (about 1.6 KB and 0.1 ms each), so the page took
  gigabytes and minutes before anything else was checked.

Decoding is counted, never kept: each stream's raw bytes go through its filters piece by piece
and only the number of bytes out is added up, stopping at the limit, so a bomb costs at most a
few megabytes and the time to inflate the limit. Only the generalised filters are decoded (as
qpdf does when it rewrites a file); an image filter (DCT, JPX, JBIG2, CCITT) ends the chain and
its input is counted as it stands: the pixels it makes are the renderer's limit, not this one.
Predictors (PDF 32000-1 §7.4.4.4) never make data larger, so a predictor on the last decoded
filter is ignored. Flate, ASCII85, ASCIIHex and RunLength are decoded here piece by piece; chains
that are not followed here (LZW, a predictor before another filter) are decoded by qpdf itself
in a child process whose output is counted through a pipe and which is stopped at the limit.
An inline image in LZW is bounded by the most LZW can expand.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from django.utils.translation import gettext as _

from keiyaku.refusals import Refusal
from keiyaku.signing.geometry import visible_page

_MIB = 1024 * 1024
# Raw bytes fed to zlib at once, and the most it may return per call: both keep the memory a
# stream costs to count small whatever it inflates to.
_CHUNK = 64 * 1024
_OUT = 1 * _MIB
_FLATE = {"/FlateDecode", "/Fl"}
_GENERALISED = _FLATE | {
    "/LZWDecode",
    "/LZW",
    "/ASCII85Decode",
    "/A85",
    "/ASCIIHexDecode",
    "/AHx",
    "/RunLengthDecode",
    "/RL",
}
# qpdf's stream decoding of a chain we do not follow in Python may take this long at most.
_QPDF_SECONDS = 60


@dataclass(frozen=True)
class PdfLimits:
    """What one uploaded PDF may cost. Defaults come from settings (`from_settings`)."""

    max_pages: int
    """Pages per file."""
    max_page_points: float
    """Longest side of a visible page, in user-space units and in points on paper (PDF
    32000-1 Annex C: 14,400 units is the format's own limit)."""
    max_stream_bytes: int
    """Decoded bytes per stream (an inline image counts as a stream of its own)."""
    max_decoded_bytes: int
    """Decoded bytes of all streams of the file together."""
    max_form_draws: int = 50_000
    """Form XObjects drawn on one page, counting every form drawn inside a form as often as
    it is drawn (page content and annotation appearances together)."""

    @classmethod
    def from_settings(cls) -> PdfLimits:
        from django.conf import settings

        return cls(
            max_pages=settings.KEIYAKU_MAX_PAGES,
            max_page_points=settings.KEIYAKU_MAX_PAGE_POINTS,
            max_stream_bytes=settings.KEIYAKU_MAX_STREAM_BYTES,
            max_decoded_bytes=settings.KEIYAKU_MAX_DECODED_BYTES,
            max_form_draws=settings.KEIYAKU_MAX_FORM_DRAWS,
        )


def _refused(message: str, code: str) -> Refusal:
    # ingest imports this module; its refusal type is looked up when one is raised.
    from keiyaku.signing.ingest import RefusedUpload

    return RefusedUpload(message, code=code)


def _mb(value: int) -> str:
    return f"{value / _MIB:,.0f}"


def check_limits(pdf: pikepdf.Pdf, *, limits: PdfLimits, path: Path | None = None) -> None:
    """Refuse an opened PDF that would cost more than ``limits`` to rewrite or render.

    ``pdf`` is the upload as pikepdf opened it; ``path`` the same file on disk, if there is
    one (qpdf reads it for the chains decoded in a child process; without it such a stream is
    written to a temporary file first). Pages are checked first (cheap), then every stream of
    the file, then the inline images of the content streams that hold one.

    Last, after the sizes (so that no stream read here is a bomb), the form XObjects each page
    draws are counted (`_FormDraws`).

    Raises `ingest.RefusedUpload` with code ``too_many_pages``, ``page_too_large``,
    ``stream_too_large``, ``file_too_large_decoded`` or ``too_many_drawings``. Issue 10,
    finding 4.
    """
    pages = len(pdf.pages)
    if pages > limits.max_pages:
        raise _refused(
            _("ページ数が上限（%(limit)s ページ）を超えています（%(count)s ページ）。")
            % {"limit": f"{limits.max_pages:,}", "count": f"{pages:,}"},
            "too_many_pages",
        )
    for number, page in enumerate(pdf.pages, start=1):
        visible = visible_page(page)
        longest = max(visible.size)
        if max(longest, longest * visible.user_unit) > limits.max_page_points:
            raise _refused(
                _(
                    "%(page)s ページ目が大きすぎます。"
                    "ページの幅と高さは %(limit)s ポイント（約 %(metres).2f m）までです。"
                )
                % {
                    "page": number,
                    "limit": f"{limits.max_page_points:,.0f}",
                    "metres": limits.max_page_points / 72 * 0.0254,
                },
                "page_too_large",
            )
    budget = _Budget(limits)
    with_inline: list[pikepdf.Stream] = []
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        seen = _InlineSeen(active=_may_hold_content(obj))
        budget.add(_decoded_size(obj, budget, path, watch=seen))
        if seen.found:
            with_inline.append(obj)
    for stream in with_inline:
        _check_inline_images(stream, budget)
    draws = _FormDraws(limits.max_form_draws)
    for number, page in enumerate(pdf.pages, start=1):
        if draws.page(page.obj) > limits.max_form_draws:
            raise _refused(
                _(
                    "%(page)s ページ目の描画が複雑すぎます"
                    "（図形の呼び出しが %(limit)s 回を超えています）。"
                    "PDFを印刷し直すなどして作成し直してから登録してください。"
                )
                % {"page": number, "limit": f"{limits.max_form_draws:,}"},
                "too_many_drawings",
            )


# ``/Name Do``: a name token (PDF 32000-1 §7.3.5) followed by the Do operator.
_DO = re.compile(rb"/([^\s/\[\]()<>{}%]*)\s*Do(?![^\s/\[\]()<>{}%])")
_APPEARANCES = ("/N", "/R", "/D")


class _FormDraws:
    """How many form XObjects a page draws, each form inside a form counted as often as it is
    drawn: what PDFium expands when it loads the page (§8.10: a form is drawn anew at each
    ``Do``). Counted from the ``/Name Do`` operators of each content stream, resolved in its
    resources (a form without its own inherits the caller's, as old writers rely on); each
    form's count is kept, so a deep chain costs one read per form. A form that draws itself
    counts once (PDFium stops the loop). Counting stops at the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # (form, the object its resources come from) -> drawings; a form without resources
        # of its own counts with each caller's.
        self._known: dict[tuple[tuple[int, int], tuple[int, int]], int] = {}
        self._open: set[tuple[int, int]] = set()

    def page(self, page: pikepdf.Dictionary) -> int:
        resources = _inherited_resources(page)
        context = page.objgen
        contents = page.get("/Contents")
        streams = contents if isinstance(contents, pikepdf.Array) else [contents]
        total = 0
        for stream in streams:
            if isinstance(stream, pikepdf.Stream):
                total += self._drawn_by(stream, resources, context)
        annots = page.get("/Annots")
        for annot in annots if isinstance(annots, pikepdf.Array) else ():
            appearances = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
            if not isinstance(appearances, pikepdf.Dictionary):
                continue
            for key in _APPEARANCES:
                appearance = appearances.get(key)
                states = (
                    list(appearance.values())
                    if isinstance(appearance, pikepdf.Dictionary)
                    and not isinstance(appearance, pikepdf.Stream)
                    else [appearance]
                )
                for state in states:
                    if isinstance(state, pikepdf.Stream):
                        total += self._form(state, resources, context)
            if total > self.limit:
                break
        return total

    def _form(self, form: pikepdf.Stream, inherited: object, context: tuple[int, int]) -> int:
        own = form.get("/Resources")
        if isinstance(own, pikepdf.Dictionary):
            resources: object = own
            context = form.objgen
        else:
            resources = inherited
        key = (form.objgen, context)
        if key in self._known:
            return self._known[key]
        if form.objgen in self._open:
            return 1
        self._open.add(form.objgen)
        try:
            count = 1 + self._drawn_by(form, resources, context)
        finally:
            self._open.discard(form.objgen)
        self._known[key] = count
        return count

    def _drawn_by(self, stream: pikepdf.Stream, resources: object, context: tuple[int, int]) -> int:
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(xobjects, pikepdf.Dictionary):
            return 0
        try:
            content = stream.read_bytes()
        except pikepdf.PdfError:
            return 0  # undecodable content: judged as damage elsewhere
        uses: dict[bytes, int] = {}
        for match in _DO.finditer(content):
            uses[match.group(1)] = uses.get(match.group(1), 0) + 1
        total = 0
        for name, times in uses.items():
            target = xobjects.get("/" + name.decode("latin-1"))
            if isinstance(target, pikepdf.Stream) and target.get("/Subtype") == pikepdf.Name.Form:
                total += times * self._form(target, resources, context)
                if total > self.limit:
                    break
        return total


def _inherited_resources(page: pikepdf.Dictionary) -> object:
    node: object = page
    for _level in range(64):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if "/Resources" in node:
            return node.get("/Resources")
        node = node.get("/Parent")
    return None


class _Budget:
    def __init__(self, limits: PdfLimits) -> None:
        self.limits = limits
        self.total = 0

    def per_stream(self) -> int:
        """The most one more stream may decode to before a limit is passed."""
        return min(self.limits.max_stream_bytes, self.limits.max_decoded_bytes - self.total)

    def add(self, size: int) -> None:
        if size > self.limits.max_stream_bytes:
            raise _refused(
                _("展開後のサイズが上限（%(limit)sMB）を超えるデータを含むPDFは登録できません。")
                % {"limit": _mb(self.limits.max_stream_bytes)},
                "stream_too_large",
            )
        self.total += size
        if self.total > self.limits.max_decoded_bytes:
            raise _refused(
                _("PDF全体の展開後のサイズが上限（%(limit)sMB）を超えています。")
                % {"limit": _mb(self.limits.max_decoded_bytes)},
                "file_too_large_decoded",
            )


class _InlineSeen:
    """Watches decoded content for the ``BI`` operator (an inline image), across chunks."""

    def __init__(self, *, active: bool) -> None:
        self.active = active
        self.found = False
        self._tail = b""

    def __call__(self, chunk: bytes) -> None:
        if self.active and not self.found:
            self.found = b"BI" in self._tail + chunk[:1] or b"BI" in chunk
            self._tail = chunk[-1:]


_NOT_CONTENT_TYPES = {"/XRef", "/ObjStm", "/Metadata", "/EmbeddedFile", "/XObject"}


def _may_hold_content(obj: pikepdf.Stream) -> bool:
    """Whether a stream may be content (a page's, a form XObject's, a pattern's, a Type 3
    glyph's), where inline images live; not an image, a font file or metadata."""
    if str(obj.get("/Type", "")) in _NOT_CONTENT_TYPES - {"/XObject"}:
        return False
    if str(obj.get("/Subtype", "")) == "/Image":
        return False
    return not any(key in obj for key in ("/Length1", "/Length2", "/Length3"))


def _filters(obj: pikepdf.Object) -> tuple[list[str], list[object]]:
    filters = obj.get("/Filter")
    parms = obj.get("/DecodeParms", obj.get("/DP"))
    if filters is None:
        return [], []
    names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)]
    parm_list: list[object]
    if isinstance(parms, pikepdf.Array):
        parm_list = list(parms)
    else:
        parm_list = [parms] if len(names) == 1 else []
    parm_list += [None] * (len(names) - len(parm_list))
    return names, parm_list


def _has_predictor(parms: object) -> bool:
    if not isinstance(parms, pikepdf.Dictionary):
        return False
    try:
        return int(parms.get("/Predictor", 1)) > 1
    except (TypeError, ValueError):
        return False


def _decoded_size(
    stream: pikepdf.Stream, budget: _Budget, path: Path | None, *, watch: _InlineSeen
) -> int:
    """How many bytes ``stream`` decodes to through its generalised filters; a number larger
    than ``budget.per_stream()`` as soon as it is known to pass it (counting stops there)."""
    names, parms = _filters(stream)
    decoded = 0
    while decoded < len(names) and names[decoded] in _GENERALISED:
        decoded += 1
    chain = names[:decoded]
    # qpdf's own buffer, seen through a memoryview: no copy of a large stream in Python.
    raw = memoryview(stream.get_raw_stream_buffer())
    if not chain:
        for start in range(0, len(raw), _CHUNK) if watch.active else ():
            watch(bytes(raw[start : start + _CHUNK]))
        return len(raw)
    in_python = all(_DECODERS.get(name) for name in chain) and not any(
        _has_predictor(p) for p in parms[: decoded - 1]
    )
    limit = budget.per_stream()
    if in_python:
        return _count(_decode_chain(raw, chain), limit, watch)
    return _count_with_qpdf(stream, limit, path, watch)


def _count(chunks: Iterator[bytes], limit: int, watch: Callable[[bytes], None]) -> int:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        watch(chunk)
        if total > limit:
            break
    return total


def _decode_chain(raw: bytes | memoryview, chain: list[str]) -> Iterator[bytes]:
    chunks: Iterator[bytes] = iter(bytes(raw[i : i + _CHUNK]) for i in range(0, len(raw), _CHUNK))
    for name in chain:
        chunks = _DECODERS[name](chunks)
    return chunks


def _inflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """zlib-decode piece by piece, at most ``_OUT`` bytes at a time. Damaged data ends the
    output where it breaks, as qpdf does (whether that is damage is judged elsewhere)."""
    inflater = zlib.decompressobj()
    for chunk in chunks:
        data = chunk
        while data:
            try:
                out = inflater.decompress(data, _OUT)
            except zlib.error:
                return
            if out:
                yield out
            data = inflater.unconsumed_tail
            if inflater.eof:
                return


_WHITESPACE = b"\x00\t\n\x0c\r "


def _ascii85(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """ASCII85 (PDF 32000-1 §7.4.3) piece by piece: whole 5-character groups at a time ("z"
    is the group "!!!!!"), the last partial group at the end marker "~>" ("~" occurs nowhere
    else) or at the end of the data."""
    pending = b""
    for chunk in chunks:
        text = chunk.translate(None, _WHITESPACE)
        end = text.find(b"~")
        pending += (text if end < 0 else text[:end]).replace(b"z", b"!!!!!")
        whole = len(pending) - len(pending) % 5
        try:
            yield base64.a85decode(pending[:whole])
        except ValueError:
            return
        pending = pending[whole:]
        if end >= 0:
            break
    if pending:
        try:
            yield base64.a85decode(pending)
        except ValueError:
            return


def _ascii_hex(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """ASCIIHex (§7.4.2): pairs of hex digits up to ">"; an odd last digit is followed by 0."""
    pending = b""
    for chunk in chunks:
        text = chunk.translate(None, _WHITESPACE)
        end = text.find(b">")
        pending += text if end < 0 else text[:end]
        whole = len(pending) - len(pending) % 2
        try:
            yield bytes.fromhex(pending[:whole].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return
        pending = pending[whole:]
        if end >= 0:
            break
    if pending:
        try:
            yield bytes.fromhex((pending + b"0").decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return


def _run_length(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """RunLength (§7.4.5): a length byte n, then n + 1 bytes to copy (n < 128) or one byte to
    repeat 257 - n times (n > 128); 128 ends the data."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        out = bytearray()
        at = 0
        while at < len(pending):
            n = pending[at]
            if n == 128:
                yield bytes(out)
                return
            need = n + 2 if n < 128 else 2
            if at + need > len(pending):
                break
            if n < 128:
                out += pending[at + 1 : at + need]
            else:
                out += pending[at + 1 : at + 2] * (257 - n)
            at += need
        pending = pending[at:]
        yield bytes(out)


_DECODERS: dict[str, Callable[[Iterator[bytes]], Iterator[bytes]]] = {
    "/FlateDecode": _inflate,
    "/Fl": _inflate,
    "/ASCII85Decode": _ascii85,
    "/A85": _ascii85,
    "/ASCIIHexDecode": _ascii_hex,
    "/AHx": _ascii_hex,
    "/RunLengthDecode": _run_length,
    "/RL": _run_length,
}


def _count_with_qpdf(
    stream: pikepdf.Stream, limit: int, path: Path | None, watch: Callable[[bytes], None]
) -> int:
    """qpdf decodes the stream (all generalised filters, predictors included) into a pipe;
    count what comes out and stop qpdf once past ``limit``."""
    objgen = stream.objgen
    if objgen == (0, 0):
        return len(stream.get_raw_stream_buffer())  # not an indirect object: cannot be named
    if path is None:
        with tempfile.TemporaryDirectory(prefix="keiyaku-limits-") as tmp:
            single = Path(tmp) / "stream.pdf"
            with pikepdf.new() as holder:
                copy = holder.copy_foreign(stream)
                holder.Root.KeiyakuStream = holder.make_indirect(copy)
                holder.save(single, stream_decode_level=pikepdf.StreamDecodeLevel.none)
            with pikepdf.open(single) as saved:
                objgen = saved.Root.KeiyakuStream.objgen
            return _pipe_qpdf(single, objgen, limit, watch)
    return _pipe_qpdf(path, objgen, limit, watch)


def _pipe_qpdf(
    path: Path, objgen: tuple[int, int], limit: int, watch: Callable[[bytes], None]
) -> int:
    command = [
        "qpdf",
        f"--show-object={objgen[0]},{objgen[1]}",
        "--filtered-stream-data",
        "--decode-level=generalized",
        "--password=",
        os.fspath(path),
    ]
    process = subprocess.Popen(  # noqa: S603 - fixed program, our own arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    total = 0
    try:
        while chunk := process.stdout.read(_CHUNK):
            total += len(chunk)
            watch(chunk)
            if total > limit:
                break
    finally:
        process.kill()
        process.stdout.close()
        process.wait(timeout=_QPDF_SECONDS)
    return total


# The most LZW can make of its input: each code emits up to one byte more than the code
# before, about 1,300-fold over a 12-bit table.
_LZW_EXPANSION = 1300


def _check_inline_images(stream: pikepdf.Stream, budget: _Budget) -> None:
    """Inline images (BI … ID … EI) carry their own filters inside a content stream, so a
    content stream of a few kilobytes may inflate to gigabytes when drawn. Each is counted as a
    stream of its own: Flate decoded and counted as above, other filters bounded by the most
    they can expand (inline images are small; a real one stays far below the limits)."""
    try:
        instructions = pikepdf.parse_content_stream(stream)
    except pikepdf.PdfError:
        return  # unparsable content: judged as damage elsewhere
    for instruction in instructions:
        if not isinstance(instruction, pikepdf.ContentStreamInlineImage):
            continue
        image = instruction.iimage
        raw = image.read_raw_bytes()
        names = [str(f) for f in image.filters]
        decoded = 0
        while decoded < len(names) and names[decoded] in _GENERALISED:
            decoded += 1
        if all(_DECODERS.get(name) for name in names[:decoded]):
            chain = names[:decoded]
            size = _count(_decode_chain(raw, chain), budget.per_stream(), lambda _c: None)
        else:
            # LZW: bounded by the most it can expand.
            size = len(raw) * _LZW_EXPANSION
        budget.add(size)
