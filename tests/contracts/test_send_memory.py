"""Issue 12, acceptance 5: sending a large contract raises the web process's peak by the file
sent to the budgeted child and the file it sends back, not by the copies the PDF libraries make.

Before, 「送信」 held the stored file, the file with the certificate ID printed, qpdf's copy
of its largest stream and the prepared file (with the signature fields) in the web process:
3.8 times this file, whose bulk is one image. Measured with the kernel's high-water mark, reset
first (`tests.peak_memory`); large buffers are mapped afresh, so a copy shows however warm the
process is.
"""

from __future__ import annotations

import pytest

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus
from keiyaku.contracts.services.drafting import Upload
from keiyaku.operations.allocator import allocator_configure
from tests.pdfs import make_pdf
from tests.peak_memory import peak_reset, peak_rise

MB = 1024 * 1024


def _draft(personas, data: bytes, email: str):
    contract = services.contract_create(
        actor=personas.sender,
        title="庁舎改修工事 請負契約",
        uploads=[Upload(filename="契約書.pdf", data=data)],
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company="株式会社テスト建設",
        name="山田 太郎",
        email=email,
        access_code="1234",
    )
    return contract


@pytest.mark.slow(seconds=6)
def test_sending_a_large_contract_holds_no_copy_the_pdf_libraries_make(personas):
    # As in a web worker (keiyaku.wsgi): freed large buffers go back to the system at once.
    assert allocator_configure()
    # Warm-up: imports, fonts, the fork server.
    services.contract_send(
        contract=_draft(personas, make_pdf(), "small@example.jp"), actor=personas.sender
    )
    # 18 MB (within the default file limit), one incompressible image.
    contract = _draft(personas, make_pdf(pad_bytes=18 * MB), "large@example.jp")
    size = contract.documents.get().current_version().blob.size
    start = peak_reset()
    services.contract_send(contract=contract, actor=personas.sender)
    rise = peak_rise(start)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.IN_PROGRESS
    # The stored version (decrypted into memory) and the prepared PDF the child sends back,
    # each once; the certificate ID's rewrite and qpdf's buffers stay in the child.
    assert rise < 2.5 * size, (rise, size)
