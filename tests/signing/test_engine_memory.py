"""Issue 12: the engine leaves nothing holding a PDF once it has returned.

pyHanko's reader, writer and signer refer to each other in cycles. Before, those cycles kept
the input and output streams, and with them the whole PDF in and out, until Python's cyclic
collector ran: in the worker, one or two 50 MB files more per contract. The collector is
switched off here, so that anything still referring to the PDFs after a call shows in their
reference counts.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from keiyaku.pki import revocation
from keiyaku.signing import engine
from tests.pdfs import make_pdf


@pytest.fixture
def no_cyclic_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def _held_only_here(data: bytes) -> bool:
    # The name in the test, this function's argument and getrefcount's own.
    return sys.getrefcount(data) == 3


def test_no_cycle_keeps_a_pdf_after_prepare_sign_and_finalize(
    no_cyclic_collector, authority, service_signer, tsa_url
):
    pdf = make_pdf(pages=2)
    before = sys.getrefcount(pdf)
    prepared = engine.prepare(pdf, field_names=["keiyaku-party-01"])
    assert sys.getrefcount(pdf) == before
    assert _held_only_here(prepared)

    timestamper = engine.make_timestamper([tsa_url])
    signed = engine.sign_agreement(
        prepared,
        field_name="keiyaku-party-01",
        reason="テスト",
        signer=service_signer,
        timestamper=timestamper,
    )
    assert _held_only_here(prepared)
    assert _held_only_here(signed)

    final = engine.finalize(
        signed, timestamper=timestamper, validation_context=revocation.validation_context(authority)
    )
    assert _held_only_here(signed)
    assert _held_only_here(final)
