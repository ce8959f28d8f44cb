"""Resource limits at ingest (issue 10, finding 4): each limit refused with its code, a bomb
refused without inflating it, real contracts (600 pages, 20 MB) accepted."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pikepdf
import pytest

from keiyaku.signing.ingest import RefusedUpload, ingest_pdf
from tests.pdf_corpus import all_kinds
from tests.pdf_corpus.limits import MB, flate_bomb, with_image, zeros_deflated
from tests.pdfs import make_pdf, with_page_geometry
from tests.peak_memory import measure_ingest

LIMIT = 20 * MB
LIMIT_KINDS = [k for k in all_kinds().values() if k.make.__module__ == "tests.pdf_corpus.limits"]


def refusal(data: bytes | Path) -> RefusedUpload:
    with pytest.raises(RefusedUpload) as caught:
        ingest_pdf(data, max_bytes=LIMIT)
    return caught.value


@pytest.mark.parametrize("corpus_kind", LIMIT_KINDS, ids=lambda k: k.name)
def test_corpus_kind_gets_its_verdict(corpus_kind) -> None:
    data = corpus_kind.make()
    if corpus_kind.expect == "refuse":
        refused = refusal(data)
        assert refused.code == corpus_kind.refusal_code
        assert any("\u3040" <= ch <= "\u30ff" for ch in str(refused.message))  # Japanese
    else:
        assert ingest_pdf(data, max_bytes=LIMIT).page_count >= 1


def test_the_refusal_states_the_limit(settings) -> None:
    settings.KEIYAKU_MAX_STREAM_BYTES = 3 * MB
    refused = refusal(with_image(make_pdf(), zeros_deflated(4 * MB), **_gray(2048, 2048)))
    assert refused.code == "stream_too_large"
    assert "3MB" in str(refused.message)


def _gray(width: int, height: int) -> dict:
    return {"filters": ["/FlateDecode"], "width": width, "height": height}


def test_a_stream_at_the_limit_passes_one_byte_over_does_not(settings) -> None:
    settings.KEIYAKU_MAX_STREAM_BYTES = 2 * MB
    at = with_image(make_pdf(), zeros_deflated(2 * MB), **_gray(1024, 2048))
    over = with_image(make_pdf(), zeros_deflated(2 * MB + 1), **_gray(1, 2 * MB + 1))
    assert ingest_pdf(at, max_bytes=LIMIT).page_count == 1
    assert refusal(over).code == "stream_too_large"


def test_streams_add_up_to_the_file_limit(settings) -> None:
    settings.KEIYAKU_MAX_DECODED_BYTES = 5 * MB
    three = with_image(make_pdf(), zeros_deflated(2 * MB), **_gray(1024, 2048), count=3)
    two = with_image(make_pdf(), zeros_deflated(2 * MB), **_gray(1024, 2048), count=2)
    assert refusal(three).code == "file_too_large_decoded"
    assert ingest_pdf(two, max_bytes=LIMIT).page_count == 1


def test_a_predictor_before_another_filter_is_decoded_by_qpdf(settings) -> None:
    """[/FlateDecode with a PNG predictor, /FlateDecode]: the second Flate sees the
    predictor's output, which only qpdf's decoding gives; the bomb inside is still found."""
    settings.KEIYAKU_MAX_STREAM_BYTES = 4 * MB
    width = 1024
    rows = zeros_deflated(8 * MB)
    rows += bytes(-len(rows) % width)  # whole rows
    # PNG "None" predictor: a 0 before every row of ``width`` bytes; Columns tells the width.
    predicted = b"".join(b"\x00" + rows[i : i + width] for i in range(0, len(rows), width))
    outer = zlib.compress(predicted)
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        image = pikepdf.Stream(pdf, outer)
        image.Filter = pikepdf.Array([pikepdf.Name.FlateDecode, pikepdf.Name.FlateDecode])
        image.DecodeParms = pikepdf.Array(
            [pikepdf.Dictionary(Predictor=10, Columns=width), pikepdf.Dictionary()]
        )
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height = 2048, 4096
        image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceGray, 8
        pdf.pages[0].add_resource(image, pikepdf.Name.XObject, pikepdf.Name.Bomb)
        out = io.BytesIO()
        pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none, compress_streams=False)
    assert refusal(out.getvalue()).code == "stream_too_large"


def test_an_inline_image_in_other_filters_is_bounded_by_their_expansion(settings) -> None:
    """RunLength can make 64 bytes of 1: 64 KiB of it count as 4 MiB, over a 3 MiB limit."""
    settings.KEIYAKU_MAX_STREAM_BYTES = 3 * MB
    runs = b"\x81\x00" * (32 * 1024)  # each pair: 128 zero bytes
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        pdf.pages[0].contents_add(
            b"q 10 0 0 10 20 20 cm BI /W 2048 /H 2048 /BPC 8 /CS /G /F /RL ID\n"
            + runs
            + b"\x80\nEI Q\n"
        )
        out = io.BytesIO()
        pdf.save(out)
    assert refusal(out.getvalue()).code == "stream_too_large"


@pytest.mark.parametrize(
    ("mediabox", "user_unit", "accepted"),
    [
        ([0, 0, 14400, 14400], None, True),  # PDF's own limit, on both sides
        ([0, 0, 14401, 100], None, False),
        ([0, 0, 100, 14401], None, False),
        ([0, 0, 7200, 7200], 2, True),  # 14,400 pt on paper
        ([0, 0, 7300, 595], 2, False),  # 14,600 pt on paper
        ([0, 0, 20000, 20000], 0.5, False),  # small on paper, but 20,000 units to render
    ],
)
def test_page_size_in_units_and_on_paper(mediabox, user_unit, accepted) -> None:
    data = with_page_geometry(make_pdf(), mediabox=mediabox, user_unit=user_unit)
    if accepted:
        assert ingest_pdf(data, max_bytes=LIMIT).page_count == 1
    else:
        assert refusal(data).code == "page_too_large"


def test_the_visible_page_is_measured_not_the_media_box() -> None:
    """A 20,000-unit media box cropped to A4 shows (and renders) as A4."""
    data = with_page_geometry(
        make_pdf(), mediabox=[0, 0, 20000, 20000], cropbox=[0, 0, 595.28, 841.89]
    )
    assert ingest_pdf(data, max_bytes=LIMIT).page_sizes == ((595.28, 841.89),)


def test_pages_per_file(settings) -> None:
    settings.KEIYAKU_MAX_PAGES = 3
    assert ingest_pdf(make_pdf(pages=3), max_bytes=LIMIT).page_count == 3
    refused = refusal(make_pdf(pages=4))
    assert refused.code == "too_many_pages"
    assert "3 ページ" in str(refused.message)


def test_a_600_page_contract_is_accepted_with_the_default_limits() -> None:
    assert ingest_pdf(make_pdf(pages=600), max_bytes=LIMIT).page_count == 600


def test_a_20_mb_file_is_accepted_from_its_path(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf(pad_bytes=LIMIT - 200_000))
    ingested = ingest_pdf(path, max_bytes=LIMIT)
    assert ingested.page_count == 1
    assert ingested.original_sha256 == __import__("hashlib").sha256(path.read_bytes()).hexdigest()


def test_a_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    """The 400 MB Flate stream of finding 4 (ingest peaked at 941 MB): refused, and ingest's
    peak memory rises by a few megabytes, not by anything near what the stream inflates to."""
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(flate_bomb())
    result = measure_ingest(bomb)
    assert result["code"] == "stream_too_large"
    assert result["child"] > 0, result  # the child's own rise is counted
    assert result["rise"] < 25 * 1024 * 1024, result


def _run_length_encoded(raw: bytes) -> bytes:
    out = bytearray()
    at = 0
    while at < len(raw):
        end = at
        while end < len(raw) and end - at < 128 and raw[end] == raw[at]:
            end += 1
        if end - at >= 2:
            out += bytes([257 - (end - at), raw[at]])
            at = end
        else:
            stop = min(len(raw), at + 128)
            out += bytes([stop - at - 1]) + raw[at:stop]
            at = stop
    return bytes(out) + b"\x80"


@pytest.mark.parametrize("size", [0, 1, 5, 99_999, 300_001])
def test_the_filters_counted_here_decode_as_the_spec_says(size) -> None:
    """The piece-by-piece decoders give back exactly what was encoded, across chunk edges."""
    import base64
    import binascii
    import random

    from keiyaku.signing.pdf_limits import _decode_chain

    raw = random.Random(size).randbytes(size) + bytes(size // 3)
    encoded = {
        ("/ASCII85Decode",): base64.a85encode(raw, wrapcol=75) + b"~>",
        ("/ASCIIHexDecode",): binascii.hexlify(raw) + b">",
        ("/RunLengthDecode",): _run_length_encoded(raw),
        ("/ASCII85Decode", "/FlateDecode"): base64.a85encode(zlib.compress(raw)) + b"~>",
    }
    for chain, data in encoded.items():
        assert b"".join(_decode_chain(data, list(chain))) == raw, chain
