"""Copies of a contract's rows, for screens that list many contracts (tests only)."""

from __future__ import annotations

import uuid

from keiyaku.contracts.models import Contract, Party
from keiyaku.storage.models import KeyRing


def copies(contract: Contract, count: int) -> list[Contract]:
    """``count`` copies of ``contract``'s list-relevant rows (the contract and its parties).

    Through the services each contract costs a PDF ingest and preparation (about a second);
    the list reads only the contract and party rows, so the copies are those rows as the
    services wrote them, each with a key ring, certificate id and title of its own
    (「… 写1」, 「… 写2」 …).
    """
    parties = list(Party.objects.filter(contract=contract))
    rings = KeyRing.objects.bulk_create(
        [KeyRing(wrapped_key=contract.keyring.wrapped_key) for _ in range(count)]
    )
    made = []
    for ring in rings:
        fields = {f.attname: getattr(contract, f.attname) for f in Contract._meta.concrete_fields}
        fields.update(
            id=uuid.uuid4(),
            keyring_id=ring.pk,
            certificate_id=uuid.uuid4().hex,
            title=f"{contract.title} 写{len(made) + 1}",
        )
        made.append(Contract(**fields))
    Contract.objects.bulk_create(made)
    rows = []
    for copy in made:
        for party in parties:
            fields = {f.attname: getattr(party, f.attname) for f in Party._meta.concrete_fields}
            fields.update(id=None, contract_id=copy.pk, forwarded_from_id=None)
            rows.append(Party(**fields))
    Party.objects.bulk_create(rows)
    return made


def copies_with_files(contract: Contract, count: int, **changes: object) -> list[Contract]:
    """`copies` that also hold ``contract``'s documents, their versions and its current
    certificate of completion: rows of their own, the stored files shared (the blobs stay
    ``contract``'s, sealed with its key ring, so each copy's files read back as the
    original's). ``changes`` set fields of every copy (``department``, ``created_by`` …)."""
    from keiyaku.contracts.models import CompletionCertificate, Document, DocumentVersion

    made = copies(contract, count)
    if changes:
        Contract.objects.filter(pk__in=[c.pk for c in made]).update(**changes)
    documents = list(Document.objects.filter(contract=contract).order_by("position"))
    versions = list(DocumentVersion.objects.filter(document__contract=contract).order_by("seq"))
    certificates = list(CompletionCertificate.objects.filter(contract=contract, current=True))
    new_documents = []
    for copy in made:
        for document in documents:
            fields = {
                f.attname: getattr(document, f.attname) for f in Document._meta.concrete_fields
            }
            fields.update(id=None, contract_id=copy.pk)
            new_documents.append(Document(**fields))
    Document.objects.bulk_create(new_documents)
    by_source = {}
    for index, document in enumerate(new_documents):
        by_source[(document.contract_id, documents[index % len(documents)].pk)] = document.pk
    rows = []
    for copy in made:
        for version in versions:
            fields = {
                f.attname: getattr(version, f.attname)
                for f in DocumentVersion._meta.concrete_fields
            }
            fields.update(
                id=None, document_id=by_source[(copy.pk, version.document_id)], party_id=None
            )
            rows.append(DocumentVersion(**fields))
    DocumentVersion.objects.bulk_create(rows)
    CompletionCertificate.objects.bulk_create(
        CompletionCertificate(
            contract_id=copy.pk, blob_id=c.blob_id, issued_at=c.issued_at, current=True
        )
        for copy in made
        for c in certificates
    )
    return list(Contract.objects.filter(pk__in=[c.pk for c in made]))
