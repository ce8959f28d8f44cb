"""Peak memory of an organisation's export (issue 15, acceptance 5), for the test and for
bench/export.py: the same code measures 200 and 2,000 contracts there, fewer here."""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from keiyaku.accounts.models import Organisation
from keiyaku.accounts.services import organisation_create, staff_create
from keiyaku.contracts.exports.archive import folder_write, zip_chunks
from keiyaku.contracts.exports.services import organisation_entries
from keiyaku.contracts.models import (
    CompletionCertificate,
    Contract,
    ContractStatus,
    DocumentVersion,
    VersionKind,
)
from tests.contract_copies import copies_with_files
from tests.flow import draft_contract
from tests.peak_memory import peak_reset, peak_rise


def organisation_with(count: int, *, slug: str) -> Organisation:
    """An organisation of ``count`` concluded contracts, each with a signed PDF and a
    certificate: one made through the services (ingest), marked concluded with its stored
    file as the final version and the certificate, and ``count`` - 1 copies sharing its files
    (`copies_with_files`)."""
    from keiyaku.accounts.models import Role

    organisation = organisation_create(name=f"計測市 {slug}", slug=slug)
    sender = staff_create(
        organisation=organisation,
        username=f"{slug}-sender",
        password="correct horse battery",
        display_name="計測 花子",
        email=f"{slug}@city.example.jp",
        roles=[Role.SENDER],
    )
    source = draft_contract(sender, title="令和8年度 庁舎清掃業務委託契約", pages=3)
    document = source.documents.get()
    blob = document.current_version().blob
    DocumentVersion.objects.create(document=document, seq=99, kind=VersionKind.COMPLETED, blob=blob)
    CompletionCertificate.objects.create(
        contract=source, blob=document.original, issued_at=timezone.now(), current=True
    )
    Contract.objects.filter(pk=source.pk).update(
        status=ContractStatus.COMPLETED, completed_at=timezone.now()
    )
    source.refresh_from_db()
    if count > 1:
        copies_with_files(source, count - 1)
    return organisation


@dataclass(frozen=True)
class ExportPeak:
    zip_bytes: int
    """How far the process's resident memory peaked while the export was streamed as a ZIP
    (read and dropped): what the kernel gives the process, which a heap holding freed memory
    from earlier work may not show."""
    folder_bytes: int
    """… and while it was written to a folder."""
    zip_heap: int
    """How far the Python heap (every object alive, tracemalloc) peaked while streaming the
    ZIP: exact, whatever the process did before, and it counts garbage not yet collected."""
    folder_heap: int
    """… and while writing the folder."""
    zip_size: int
    files: int
    """Files in the export (with the manifest's two)."""


def _heap_peak(export: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        export()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def export_peak(organisation: Organisation) -> ExportPeak:
    """Export ``organisation`` as a ZIP (every piece read and dropped, as a response is sent)
    and to a temporary folder, each measured from a reset high-water mark; then both again
    under tracemalloc for the Python heap's peak."""

    def stream() -> int:
        size = 0
        for piece in zip_chunks(organisation_entries(organisation)):
            size += len(piece)
        return size

    def write() -> int:
        with tempfile.TemporaryDirectory() as folder:
            return folder_write(organisation_entries(organisation), Path(folder) / "export")

    start = peak_reset()
    size = stream()
    zip_rise = peak_rise(start)
    start = peak_reset()
    files = write()
    folder_rise = peak_rise(start)
    return ExportPeak(
        zip_bytes=zip_rise,
        folder_bytes=folder_rise,
        zip_heap=_heap_peak(stream),
        folder_heap=_heap_peak(write),
        zip_size=size,
        files=files + 2,
    )
