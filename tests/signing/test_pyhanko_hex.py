"""keiyaku.signing.pyhanko_hex: pyHanko's hex string reader, in bulk (issue 12, worker CPU).

The override must give pyHanko's own answer for every input (the same object, the same stream
position, the same error) and read a signature-sized string in a few reads, not two per digit.
"""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError
from pyhanko.pdf_utils.reader import PdfFileReader

from keiyaku.signing import pyhanko_hex
from tests.pdfs import make_signed_pdf

CASES = [
    b"<>",
    b"<41>",
    b"<4>",  # odd: an implied 0
    b"<48 65\n6c\r\n6C\t6f\f\x00>",  # PDF whitespace anywhere
    b"<FEFF30423044>",  # UTF-16BE with its BOM: a text string
    b"<" + b"ab" * 40_000 + b">",  # longer than one read-ahead chunk
    b"<414 % a comment\n243>",  # pyHanko skips comments
]
BAD = [b"<41zz>", b"<4142", b"<41(>"]


class CountingStream(io.BytesIO):
    """A BytesIO that counts read() calls."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)


def _both(data: bytes, reader: object) -> tuple[object, int]:
    stream = io.BytesIO(data + b" /Next")
    result = reader(stream)  # type: ignore[operator]
    return result, stream.tell()


@pytest.mark.parametrize("data", CASES)
def test_same_object_and_position_as_pyhanko(data):
    ours, upstream = (
        _both(data, pyhanko_hex.read_hex_string_from_stream),
        _both(data, pyhanko_hex.upstream),
    )
    assert ours == upstream
    assert type(ours[0]) is type(upstream[0])


@pytest.mark.parametrize("data", BAD)
def test_malformed_strings_raise_what_pyhanko_raises(data):
    with pytest.raises(PdfStreamError) as upstream:
        pyhanko_hex.upstream(io.BytesIO(data))
    with pytest.raises(PdfStreamError) as ours:
        pyhanko_hex.read_hex_string_from_stream(io.BytesIO(data))
    assert str(ours.value) == str(upstream.value)


def test_a_signature_sized_string_takes_a_few_reads():
    """pyHanko reads twice per digit (40,000 reads for a 16 KB /Contents); the override reads
    ahead in chunks."""
    data = b"<" + b"0123456789abcdef" * 2_048 + b">"
    stream = CountingStream(data)
    generic.read_object(stream, generic.Reference(1, 0))
    assert stream.reads < 10


def test_installed_once_keiyaku_signing_is_imported():
    assert pyhanko_hex.installed()
    assert generic.read_hex_string_from_stream is pyhanko_hex.read_hex_string_from_stream


def test_signed_pdfs_read_the_same_through_the_override():
    """A real signature's /Contents, read through pyHanko's reader with and without it."""
    pdf = make_signed_pdf()

    def contents() -> bytes:
        sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
        return bytes(sig.sig_object["/Contents"])

    ours = contents()
    generic.read_hex_string_from_stream = pyhanko_hex.upstream
    try:
        theirs = contents()
    finally:
        pyhanko_hex.install()
    assert ours == theirs and len(ours) > 1000
