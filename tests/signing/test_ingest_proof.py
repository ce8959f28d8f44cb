"""The ingest proof (issue 10, findings 2, 7, 8): a file is accepted only once a scratch copy
of it signs, fills and signs again verifiably; otherwise it is normalised harder or refused."""

from __future__ import annotations

import io

import pikepdf
import pypdfium2 as pdfium
import pytest

from keiyaku.signing import flatten
from keiyaku.signing.ingest import IngestChange, RefusedUpload, _save, ingest_pdf
from keiyaku.signing.ingest_proof import prove, prove_in_process, reference_paths
from tests.pdf_corpus import forms
from tests.pdfs import make_pdf

MAX = 50 * 1024 * 1024

# (input, what ingest must record); each one verified NG (or 500'd at 「送信」) before.
BROKEN = {
    "ap_n_not_stream": (forms.form_ap_n_not_stream, [IngestChange.FORM_FLATTENED]),
    "radio_kids_share_name": (forms.form_radio_kids_share_name, [IngestChange.FORM_FLATTENED]),
    "structure_tree_circular": (
        forms.structure_tree_circular,
        [IngestChange.STRUCTURE_TREE_REMOVED],
    ),
    "form_field_tree_circular": (forms.form_field_tree_circular, [IngestChange.FORM_FLATTENED]),
}


def _rewritten(data: bytes) -> bytes:
    """The file as ingest rewrote it before the proof existed."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return _save(pdf)


def test_a_plain_contract_is_proved_and_kept_as_it_is() -> None:
    ingested = ingest_pdf(make_pdf(pages=2), max_bytes=MAX)
    assert ingested.changes == ()
    prove(ingested.normalised)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_the_input_as_rewritten_cannot_be_signed_verifiably(name: str) -> None:
    make, _ = BROKEN[name]
    reason = prove_in_process(_rewritten(make()))
    assert reason, "the input must be one that keiyaku used to accept and could not sign"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_ingest_normalises_harder_records_it_and_the_result_proves(name: str) -> None:
    make, changes = BROKEN[name]
    ingested = ingest_pdf(make(), max_bytes=MAX)
    assert list(ingested.changes) == changes
    assert prove_in_process(ingested.normalised) is None
    with pikepdf.open(io.BytesIO(ingested.normalised)) as pdf:
        if IngestChange.FORM_FLATTENED in changes:
            assert "/AcroForm" not in pdf.Root
        if IngestChange.STRUCTURE_TREE_REMOVED in changes:
            assert "/StructTreeRoot" not in pdf.Root


def test_paths_are_counted_as_the_change_analysis_walks_them() -> None:
    # Form XObject i lists every earlier one: 2^(i-1) paths reach it from the last.
    for count in (4, 12):
        chained = _rewritten(forms.chained_form_xobjects(count))
        assert reference_paths(chained, limit=10**9) >= 2 ** (count - 1)
    assert reference_paths(_rewritten(forms.chained_form_xobjects()), limit=1000) == 1000
    # An ordinary contract: a few paths per page.
    assert reference_paths(make_pdf(pages=40), limit=10**9) < 400
    assert reference_paths(b"%PDF-1.7 not a pdf", limit=10) == 0


def test_a_file_with_millions_of_paths_is_not_walked_by_the_proof() -> None:
    # Before: pyHanko listed all 4 million paths until the budget ran out (30 s by default).
    reason = prove_in_process(_rewritten(forms.chained_form_xobjects()))
    assert reason is not None and "reference paths" in reason


def test_chained_form_xobjects_are_pruned_with_the_default_budget() -> None:
    ingested = ingest_pdf(forms.chained_form_xobjects(), max_bytes=MAX)
    assert list(ingested.changes) == [
        IngestChange.FORM_FLATTENED,
        IngestChange.XOBJECT_RESOURCES_PRUNED,
    ]
    with pikepdf.open(io.BytesIO(ingested.normalised)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Form:
                assert len(obj.get("/Resources", {}).get("/XObject", {})) <= 1


def test_a_file_no_normalisation_makes_signable_is_refused_in_japanese(settings) -> None:
    settings.KEIYAKU_VALIDATION_SECONDS = 4
    # 2^16 drawings: over the default drawing limit (which refuses it before any proof as
    # `too_many_drawings`, see test_pdf_limits_drawings), so raised here to reach the proof.
    settings.KEIYAKU_MAX_FORM_DRAWS = 10**6
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(forms.form_xobjects_drawn_exponentially(16), max_bytes=MAX)
    assert refused.value.code == "unsignable"
    assert "印刷し直した" in str(refused.value.message)


def _dark(pdf: bytes, x: float, y: float, *, forms_drawn: bool) -> bool:
    """Whether the pixel at PDF point (x, y) of page 1 is dark, rendered at 2 px/pt."""
    doc = pdfium.PdfDocument(pdf)
    if forms_drawn:
        doc.init_forms()
    page = doc[0]
    height = page.get_height()
    image = page.render(scale=2, may_draw_forms=forms_drawn).to_pil().convert("L")
    return image.getpixel((int(x * 2), int((height - y) * 2))) < 128


def test_flattening_keeps_what_the_form_prints() -> None:
    original = forms.form_radio_kids_share_name()
    flattened, applied = flatten.normalise_harder(_rewritten(original))
    assert applied == [flatten.FORM_FLATTENED]
    # The chosen radio button's dot (first kid, 3..11 pt inside its 14 pt square at 300, 700)
    assert _dark(original, 307, 707, forms_drawn=True)
    assert _dark(flattened, 307, 707, forms_drawn=False)
    # and the other one stays empty.
    assert not _dark(flattened, 347, 707, forms_drawn=False)


def test_a_loop_in_the_structure_tree_is_found_however_deep() -> None:
    with pikepdf.open(io.BytesIO(forms.structure_tree_circular())) as pdf:
        assert flatten._structure_tree_is_broken(pdf)
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        assert not flatten._structure_tree_is_broken(pdf)
