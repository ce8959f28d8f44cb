"""A local override of pyHanko's hex string reader (pyHanko 0.38, ``pdf_utils.generic``).

Issue 12: pyHanko reads a PDF hex string ``<…>`` one byte at a time (``read_non_whitespace``
per digit, a generator per byte). A signature's ``/Contents`` is such a string of 16–20 KB,
and finalising (validation data for every signature, then the document timestamp) reads every
earlier signature's: with 20 signatures, 74 % of a completion's CPU went there
(docs/architecture.md, "Where pyHanko is worked around").

:func:`read_hex_string_from_stream` gives the same result with a few reads: it reads ahead to
the closing ``>``, drops PDF whitespace (ISO 32000-1 §7.3.4.3: white space in a hexadecimal
string is ignored; an odd last digit is followed by an implied 0) and decodes with
``binascii``. Whatever is not plain hex digits and whitespace (a ``%``, which pyHanko treats as
a comment; a stray character; the end of the stream) goes back to pyHanko's own reader from
the string's start, so its result and its errors are pyHanko's. Upstream-compatible: same
signature, same return types (``pdf_string``), same stream position afterwards.

:func:`install` replaces the module attribute ``read_object`` calls; it is idempotent and runs
when ``keiyaku.signing`` is imported, so the web, the worker and the validation children (which
import the engine) all use it. Remove this module once pyHanko reads hex strings in bulk.
"""

from __future__ import annotations

import binascii
import os
from typing import IO, Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

__all__ = ["install", "installed", "read_hex_string_from_stream", "upstream"]

upstream = generic.read_hex_string_from_stream
"""pyHanko's own reader, kept for the fall-back and for comparison in the tests."""

_CHUNK = 64 * 1024


def read_hex_string_from_stream(stream: IO[bytes]) -> Any:
    """Read the hex string starting at ``stream``'s position (on its ``<``) and leave the
    stream just after its ``>``. Returns pyHanko's ``pdf_string`` of the bytes (a
    ``TextStringObject`` or a ``ByteStringObject``); raises what pyHanko raises
    (``PdfStreamError``) for a malformed string, through pyHanko's own reader."""
    start = stream.tell()
    stream.read(1)  # the "<"
    parts = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            stream.seek(start)
            return upstream(stream)
        end = chunk.find(b">")
        if end < 0:
            parts.append(chunk)
            continue
        parts.append(chunk[:end])
        stream.seek(end + 1 - len(chunk), os.SEEK_CUR)
        break
    digits = b"".join(parts).translate(None, PDF_WHITESPACE)
    if digits.translate(None, generic.HEX_DIGITS):
        # A comment, or not hex at all: pyHanko decides what it means.
        stream.seek(start)
        return upstream(stream)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def install() -> None:
    """Make pyHanko's object reader use :func:`read_hex_string_from_stream`."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream


def installed() -> bool:
    """True when pyHanko's object reader uses the override."""
    return generic.read_hex_string_from_stream is read_hex_string_from_stream
