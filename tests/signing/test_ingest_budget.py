"""The whole ingest runs in a child under its own time and memory budget (issue 10, finding 4
and 7's kind: no upload may hold a web worker for minutes).

A 365 KB file whose one content stream decodes to 183 MB of drawing operators passed every
resource limit and was accepted after 429 s at 1.1 GB, all of it in the web process (qpdf's
syntax check and PDFium's page load).
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from django.utils import translation

from keiyaku.signing import budget
from keiyaku.signing.ingest import RefusedUpload, ingest_pdf
from tests.pdfs import make_encrypted_pdf, make_pdf

LIMIT = 50 * 1024 * 1024


def many_operators_pdf(megabytes: int) -> bytes:
    """One page whose content stream is ``megabytes`` MB of line drawings, Flate-compressed
    to a small fraction of that: under every size limit, slow for every reader."""
    line = b"10 10 m 20 20 l S\n"
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].Contents = pdf.make_stream(line * (megabytes * 1024 * 1024 // len(line)))
    out = io.BytesIO()
    pdf.save(out, compress_streams=True)
    return out.getvalue()


def test_an_ingest_past_its_time_budget_is_refused_not_waited_for(settings):
    settings.KEIYAKU_INGEST_SECONDS = 1
    data = many_operators_pdf(16)
    assert len(data) < 1024 * 1024
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(data, max_bytes=LIMIT)
    assert refused.value.code == "over_budget"
    assert "時間またはメモリ" in refused.value.message


def test_an_ingest_past_its_memory_budget_is_refused(settings):
    # Far below what the libraries alone take: the child cannot even finish its work.
    settings.KEIYAKU_INGEST_MEMORY_MB = 300
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(many_operators_pdf(16), max_bytes=LIMIT)
    assert refused.value.code == "over_budget"


def test_a_refusal_made_in_the_child_keeps_its_code_field_and_language(settings):
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(make_encrypted_pdf(), max_bytes=LIMIT)
    assert refused.value.code == "encrypted"
    assert "パスワード" in refused.value.message
    with translation.override("en"), pytest.raises(RefusedUpload) as refused:
        ingest_pdf(make_encrypted_pdf(), max_bytes=LIMIT)
    assert refused.value.code == "encrypted"
    assert "password" in refused.value.message.lower()


def test_settings_changed_in_this_process_apply_in_the_child(settings):
    settings.KEIYAKU_MAX_PAGES = 2
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(make_pdf(pages=3), max_bytes=LIMIT)
    assert refused.value.code == "too_many_pages"


def test_the_child_reports_how_far_its_memory_rose():
    budget.peak_forget()
    ingest_pdf(make_pdf(pages=2), max_bytes=LIMIT)
    peak = budget.last_peak_bytes()
    assert peak is not None and peak > 0
