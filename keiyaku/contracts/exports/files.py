"""Which stored files of a contract an export carries, under which names (issue 15, R34).

- a concluded contract: each document's signed (final) version, as 「署名済み_<file name>」
  (the name the contract page downloads it under), and its current certificate of
  completion, as 「締結証明書_<certificate ID>.pdf」 (`services.downloads`);
- an imported contract (``Contract.imported_at``, R30): each document as stored (with the
  document timestamp added on import), as 「取込_<file name>」; no certificate, keiyaku did
  not conclude it;
- its attachments (R32: a surety's 「認証キーのお知らせ」 and any other file kept with the
  contract apart from its documents), in any state, as 「添付_<file name>」 (`attachment_files`);
  in the organisation's export (R34) the removed ones too, kept as 電子帳簿保存法's
  訂正削除の履歴 asks, as 「削除済み_添付_<file name>」 (``history=True``).

A certificate that is not current (never issued, or outdated by an archival renewal) is asked
for as the download asks (`downloads.certificate_requested`: the worker issues it, a request
never waits for a time-stamp authority); the export says so in its notes instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.db.models import Prefetch, prefetch_related_objects
from django.utils.translation import gettext as _

from keiyaku.contracts.exports.archive import Entry, safe_name
from keiyaku.contracts.models import (
    Attachment,
    CompletionCertificate,
    Contract,
    Document,
    DocumentVersion,
    Surety,
    SuretyCorrection,
    VersionKind,
)
from keiyaku.contracts.services.downloads import certificate_filename
from keiyaku.storage.blobs import blob_chunks
from keiyaku.storage.models import Blob

_FINAL = (VersionKind.COMPLETED, VersionKind.RENEWED)


@dataclass(frozen=True)
class StoredFile:
    """A stored file of a contract as an export names it (``name`` within the contract's
    folder) and the blob it is read from."""

    name: str
    blob: Blob
    what: str
    """"signed", "certificate", "imported" or "attachment"."""
    document_position: int | None = None


def files_prefetch(batch: Sequence[Contract]) -> None:
    """Read the documents, their versions (with blobs), current certificates, attachments and
    sureties of a batch of contracts in a few queries, for `contract_files`."""
    prefetch_related_objects(
        list(batch),
        Prefetch(
            "documents",
            queryset=Document.objects.order_by("position", "id")
            .select_related("original")
            .prefetch_related(
                Prefetch(
                    "versions",
                    queryset=DocumentVersion.objects.order_by("seq").select_related(
                        "blob__keyring"
                    ),
                )
            ),
        ),
        Prefetch(
            "completion_certificates",
            queryset=CompletionCertificate.objects.filter(current=True).select_related(
                "blob__keyring"
            ),
            to_attr="current_certificates",
        ),
        # Removed ones too: `attachment_files` leaves them out unless asked for the history.
        Prefetch(
            "attachments",
            queryset=Attachment.objects.order_by("added_at", "id").select_related(
                "blob__keyring", "removed_by"
            ),
        ),
        Prefetch(
            "sureties",
            queryset=Surety.objects.order_by("added_at", "id")
            .select_related("notice", "removed_by")
            .prefetch_related(
                Prefetch(
                    "corrections",
                    queryset=SuretyCorrection.objects.order_by("corrected_at", "id").select_related(
                        "notice", "corrected_by"
                    ),
                )
            ),
        ),
    )


def contract_folder(contract: Contract) -> str:
    """The contract's folder in an export: 「<案件名>_<締結証明書ID>」, unique by its ID."""
    return f"{safe_name(contract.title, limit=60)}_{contract.certificate_id}"


def _current(document: Document) -> DocumentVersion:
    versions = list(document.versions.all())
    return versions[-1]


def attachment_files(contract: Contract, *, history: bool = False) -> list[StoredFile]:
    """The contract's current attachments (R32: not signed, shown apart from its documents) as
    「添付_<file name>」, in the order they were added, whatever the contract's state: every
    export carries them. With ``history`` (the organisation's export, R34), the removed ones
    too, as 「削除済み_添付_<file name>」 (電子帳簿保存法's 訂正削除の履歴). After
    `files_prefetch` (else read here)."""
    files = []
    for a in contract.attachments.all():  # all: the prefetch holds the removed ones too
        if not a.is_removed:
            files.append(
                StoredFile(_("添付_%(filename)s") % {"filename": a.filename}, a.blob, "attachment")
            )
        elif history:
            files.append(
                StoredFile(
                    _("削除済み_添付_%(filename)s") % {"filename": a.filename}, a.blob, "attachment"
                )
            )
    return files


def contract_files(contract: Contract, *, history: bool = False) -> tuple[list[StoredFile], bool]:
    """The files an export carries for ``contract`` (after `files_prefetch`), and whether its
    certificate of completion is missing (not issued yet, or outdated): then its issue has
    been queued. Names are unique within the contract. ``history``: removed attachments too
    (`attachment_files`)."""
    files: list[StoredFile] = []
    certificate_missing = False
    documents = list(contract.documents.all())
    if contract.imported_at is not None:
        for document in documents:
            files.append(
                StoredFile(
                    _("取込_%(filename)s") % {"filename": document.filename},
                    _current(document).blob,
                    "imported",
                    document.position,
                )
            )
    elif contract.is_concluded:
        for document in documents:
            version = _current(document)
            if version.kind in _FINAL:
                files.append(
                    StoredFile(
                        _("署名済み_%(filename)s") % {"filename": document.filename},
                        version.blob,
                        "signed",
                        document.position,
                    )
                )
        current = getattr(contract, "current_certificates", None)
        if current is None:
            current = list(contract.completion_certificates.filter(current=True))
        if current:
            files.append(StoredFile(certificate_filename(contract), current[0].blob, "certificate"))
        else:
            from keiyaku.contracts.tasks import issue_certificate

            issue_certificate(str(contract.pk))  # as the download does: the worker issues it
            certificate_missing = True
    files.extend(attachment_files(contract, history=history))
    return _unique(files), certificate_missing


def _unique(files: list[StoredFile]) -> list[StoredFile]:
    """Each name made safe, and a second 「契約書.pdf」 in one contract 「契約書 (2).pdf」."""
    seen: set[str] = set()
    named = []
    for file in files:
        name = safe_name(file.name)
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        count = 1
        while name.casefold() in seen:
            count += 1
            name = f"{stem} ({count}).{ext}" if dot else f"{stem} ({count})"
        seen.add(name.casefold())
        named.append(StoredFile(name, file.blob, file.what, file.document_position))
    return named


def _reader(blob: Blob) -> Callable[[], Iterator[bytes]]:
    return lambda: blob_chunks(blob)


def file_entries(folder: str, files: Iterable[StoredFile]) -> list[Entry]:
    """The export entries of ``files`` under ``folder``, each read in chunks when written."""
    return [Entry(f"{folder}/{file.name}", _reader(file.blob)) for file in files]
