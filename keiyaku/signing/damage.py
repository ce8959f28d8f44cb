"""Judging a damaged upload by what matters, not by qpdf's warning count (issue 10, finding 10).

qpdf warns about many things it repairs without loss: a ``stream`` keyword followed by CR only,
a /Length it had to recover by finding ``endstream``, a cross-reference table it rebuilt. And
Acrobat Reader and macOS Preview save incremental updates whose Flate streams stop after the
last deflate block, without zlib's Adler-32 end marker; qpdf then warns that the "input stream
is complete but output may still be valid", and it says the same of a stream cut in the middle,
so its warning cannot tell the two apart. This module can: a Flate stream whose deflate data
reaches its final block (RFC 1951 §3.2.3, BFINAL) decoded completely, whatever follows.

What counts as damage, and is refused as corrupt: a page its page tree declares is missing, a
stream does not decode (or its deflate data ends before the final block), the repaired file
has another number of pages, or PDFium cannot open one of its pages.
"""

from __future__ import annotations

import io
import re
import zlib
from pathlib import Path
from typing import BinaryIO

import pikepdf

from keiyaku.signing import render

# Filters qpdf decodes at its "generalized" level; streams with an image codec (DCT, JPX,
# JBIG2, CCITT) are decoded by PDFium when the page is drawn, not here.
_GENERALIZED = frozenset(
    {
        "/FlateDecode",
        "/Fl",
        "/LZWDecode",
        "/LZW",
        "/ASCIIHexDecode",
        "/AHx",
        "/ASCII85Decode",
        "/A85",
        "/RunLengthDecode",
        "/RL",
    }
)
# How qpdf names the object a warning is about: "(object 12 0, offset …)", "object 3 0: …",
# "object 3 0 not found …" (stable since qpdf 8).
_OBJECT_NAMED = re.compile(r"\bobject (\d+) (\d+)\b")
_FLATE = frozenset({"/FlateDecode", "/Fl"})


class Damaged(ValueError):
    """The file lacks something that matters; ingest refuses it as corrupt."""


def inflate_without_end_marker(raw: bytes) -> bytes | None:
    """The data of a zlib stream (RFC 1950) whose deflate data is complete, or None.

    ``raw``: the stream's bytes as stored. Complete means the deflate data reaches the end of
    its final block; the 4-byte Adler-32 after it may be missing or cut, as in the incremental
    updates Acrobat Reader and macOS Preview write. None for a stream cut inside the deflate
    data, or one that is not zlib at all.
    """
    if len(raw) < 2:
        return None
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, after the 2-byte header
    try:
        out = inflater.decompress(raw[2:]) + inflater.flush()
    except zlib.error:
        return None
    return out if inflater.eof else None


def require_named_objects(pdf: pikepdf.Pdf, warnings: list[str]) -> None:
    """Every object a qpdf warning names (``object 12 0``) exists after repair.

    ``warnings``: qpdf's texts (`Pdf.get_warnings`, `Pdf.check_pdf_syntax`). An object qpdf
    could not read at all (a file cut inside it, garbage where it should start) comes back as
    null, and whatever referred to it (a font, the document information, an image) silently
    loses it: damage. One it read after a repair (CR-only ``stream``, recovered /Length, a
    rebuilt cross-reference entry) is there. Raises `Damaged`.
    """
    for number, generation in {
        (int(n), int(g)) for n, g in _OBJECT_NAMED.findall(" ".join(warnings))
    }:
        if pdf.get_object(number, generation) is None:
            raise Damaged(f"object {number} {generation} could not be read")


def repair_streams(pdf: pikepdf.Pdf) -> int:
    """Decode every stream qpdf can decode; rewrite the Flate ones that lack only their end.

    ``pdf``: opened by pikepdf; changed in place (a repaired stream gets its data compressed
    again, with its /Filter and /DecodeParms unchanged), so that the rewrite is clean.
    Returns how many streams were repaired. Raises `Damaged` for a stream that does not decode.
    Keeps one decoded stream in memory at a time.
    """
    repaired = 0
    pdf.get_warnings()  # clear: only what decoding says counts below
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        filters = _filters(obj)
        if not filters or not set(filters) <= _GENERALIZED:
            continue
        if _decodes_cleanly(pdf, obj):
            continue
        if filters[0] not in _FLATE:
            raise Damaged(f"stream {obj.objgen} does not decode")
        inflated = inflate_without_end_marker(obj.read_raw_bytes())
        if inflated is None:
            raise Damaged(f"stream {obj.objgen} is cut inside its deflate data")
        parms = obj.get("/DecodeParms")
        obj.write(
            zlib.compress(inflated),
            filter=[pikepdf.Name(name) for name in filters],
            decode_parms=parms if isinstance(parms, pikepdf.Dictionary | pikepdf.Array) else None,
        )
        if not _decodes_cleanly(pdf, obj):
            raise Damaged(f"stream {obj.objgen} does not decode after repair")
        repaired += 1
    return repaired


def require_pdfium_opens_every_page(pdf: bytes, *, pages: int) -> None:
    """The rewritten file ``pdf`` has ``pages`` pages for PDFium and it loads each of them.

    Raises `Damaged` otherwise (PDFium's own errors included). The page is only loaded, not
    drawn: about 1 ms a page.
    """
    import pypdfium2 as pdfium

    try:
        with render._document(pdf) as doc:
            if len(doc) != pages:
                raise Damaged(f"PDFium sees {len(doc)} pages, the page tree {pages}")
            for index in range(len(doc)):
                doc[index].close()
    except pdfium.PdfiumError as exc:
        raise Damaged(str(exc)) from exc


def declared_page_count(data: bytes | Path) -> int | None:
    """The /Count of the page tree's root as the file states it, or None when unreadable.

    qpdf repairs the page tree as it opens a file (a kid that is missing or not a dictionary
    is dropped and /Count lowered), so after opening, a lost page leaves no trace but a log
    line. Read with pyHanko's lenient reader, which repairs nothing; it cannot read a file
    whose cross-reference table must be rebuilt (None), and there the objects qpdf names in
    its warnings tell (`require_named_objects`).
    """
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        with _readable(data) as source:
            reader = PdfFileReader(source, strict=False)
            return int(reader.root["/Pages"]["/Count"])
    except Exception:  # any damage pyHanko cannot read past: not this check's to judge
        return None


def encryption_filter(data: bytes | Path) -> str | None:
    """The /Filter of the file's encryption dictionary (``"/Adobe.PubSec"`` …), or None.

    For a file qpdf will not open: qpdf decrypts only the password handler (/Standard), so a
    certificate-encrypted file (/Adobe.PubSec, ISO 32000-1 §7.6.5) or one protected by a
    rights-management server fails to open and would otherwise be called damaged. Read with
    pyHanko's lenient reader; None when there is no encryption dictionary or it cannot be read.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        with _readable(data) as source:
            reader = PdfFileReader(source, strict=False)
            if "/Encrypt" not in reader.trailer:
                return None
            kind = reader.trailer["/Encrypt"].get("/Filter")
    except Exception:  # damaged beyond what pyHanko reads: then it is damage after all
        return None
    return str(kind) if kind is not None else None


def _readable(data: bytes | Path) -> BinaryIO:
    """The upload as a file object: its bytes, or its file on disk (an upload kept there)."""
    return io.BytesIO(data) if isinstance(data, bytes) else data.open("rb")


def _decodes_cleanly(pdf: pikepdf.Pdf, stream: pikepdf.Stream) -> bool:
    try:
        stream.read_bytes()
    except pikepdf.PdfError:
        pdf.get_warnings()
        return False
    return not pdf.get_warnings()


def _filters(stream: pikepdf.Stream) -> list[str]:
    value = stream.get("/Filter")
    if isinstance(value, pikepdf.Name):
        return [str(value)]
    if isinstance(value, pikepdf.Array):
        return [str(item) for item in value]
    return []
