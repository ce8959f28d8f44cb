"""What must hold after the installation carried the contracts: read from the database, the
bucket and the relay, never from what the processes said about themselves."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from keiyaku.audit.models import Event
from keiyaku.contracts.models import (
    Contract,
    ContractStatus,
    DocumentVersion,
    PartyStatus,
    VersionKind,
)
from keiyaku.notifications.models import OutboxMessage, OutboxStatus
from keiyaku.notifications.services import outbox_message_id
from keiyaku.signing import budget
from keiyaku.signing.keys import get_revocation_data, get_trust_roots
from keiyaku.signing.validation import verify_der
from keiyaku.storage.blobs import blob_get
from tests.outside import pdfsig
from tests.production_cluster.cluster import RecordingRelay
from tests.production_cluster.conftest import Installation


def assert_each_party_signed_once(
    contract_ids: Sequence[str], *, parties: int
) -> list[tuple[bytes, list[str]]]:
    """Every contract completed; each party signed each document exactly once (its own
    version, one audit entry); one completion. Returns each final PDF with the signature
    fields of its parties."""
    finals: list[tuple[bytes, list[str]]] = []
    for contract in Contract.objects.filter(pk__in=contract_ids).prefetch_related("parties"):
        assert contract.status == ContractStatus.COMPLETED, (contract.pk, contract.status)
        assert contract.parties.count() == parties
        for party in contract.parties.all():
            assert party.status == PartyStatus.SIGNED, (contract.pk, party.email, party.status)
            signed = DocumentVersion.objects.filter(party=party, kind=VersionKind.SIGNED)
            assert signed.count() == contract.documents.count(), (contract.pk, party.email)
        events = Event.objects.filter(subject=contract.audit_subject)
        assert events.filter(event="signature.apply").count() == parties, contract.pk
        assert events.filter(event="contract.complete").count() == 1, contract.pk
        for document in contract.documents.all():
            final = document.current_version()
            assert final.kind == VersionKind.COMPLETED, contract.pk
            fields = [party.signature_field for party in contract.parties.all()]
            finals.append((blob_get(final.blob), fields))
    assert len(finals) == len(contract_ids), "a contract is missing"
    return finals


def assert_final_pdfs_validate(finals: Sequence[tuple[bytes, list[str]]]) -> None:
    """Each final PDF passes pyHanko's validation (keiyaku's roots and revocation data, in the
    budgeted child as /verify/ runs it) and poppler's pdfsig, with exactly one signature in
    each party's field and no other signature."""
    roots = [cert.dump() for cert in get_trust_roots()]
    crls, ocsps = get_revocation_data()

    def check(final: tuple[bytes, list[str]]) -> None:
        pdf, field_names = final
        report = budget.run(verify_der, pdf, trust_roots=roots, at=None, crls=crls, ocsps=ocsps)
        assert report.ok, report.as_dict()
        signed = Counter(s.field_name for s in report.signatures if s.kind == "signature")
        assert sorted(signed) == sorted(field_names), signed
        assert set(signed.values()) == {1}, signed
        outside = [s for s in pdfsig(pdf) if not s["is_document_timestamp"]]
        assert len(outside) == len(field_names), outside

    # Two at a time: each validation is a child process of its own (two cores).
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(check, finals))


@dataclass(frozen=True)
class MailFigures:
    outbox: int
    received: int
    distinct_message_ids: int
    resent: dict[str, int]
    """Message-IDs the relay received more than once, with their counts (the kill -9 window
    between the relay's 250 and the outbox row's update, docs/architecture.md)."""


def mail_figures(
    contract_ids: Sequence[str], relay: RecordingRelay, *, wait_seconds: float = 180
) -> MailFigures:
    """Every outbox message of the contracts was sent and reached the relay, under its one
    stable Message-ID; nothing reached the relay that no outbox row explains; no row went out
    under two Message-IDs.

    Mail goes out after the work it reports (the completion notice after the completion), and
    a delivery lost with a killed consumer waits for the minute's sweep
    (`KEIYAKU_SWEEP_AFTER_SECONDS` plus up to a minute): the rows are given ``wait_seconds``
    to be sent before they are judged."""
    rows = list(OutboxMessage.objects.filter(contract_id__in=contract_ids))
    deadline = time.monotonic() + wait_seconds
    while any(r.status != OutboxStatus.SENT for r in rows) and time.monotonic() < deadline:
        time.sleep(1)
        rows = list(OutboxMessage.objects.filter(contract_id__in=contract_ids))
    received = relay.messages()
    assert rows and all(r.status == OutboxStatus.SENT for r in rows), [
        (r.pk, r.kind, r.status, r.last_error) for r in rows if r.status != OutboxStatus.SENT
    ]
    by_id = {outbox_message_id(r): r for r in rows}
    counts = Counter(m.message_id for m in received)
    lost = [(r.pk, r.kind, r.to) for mid, r in by_id.items() if counts[mid] == 0]
    assert not lost, f"outbox messages that never reached the relay: {lost}"
    unexplained = [m for m in received if m.message_id not in by_id]
    assert not unexplained, f"received messages no outbox row explains: {unexplained[:3]}"
    # The same message never reached the relay under two Message-IDs (a resend that would be a
    # new message for the recipient's MTA and mail program).
    ids_by_content: dict[tuple[object, ...], set[str]] = defaultdict(set)
    for message in received:
        row = by_id[message.message_id]
        # (The subject as the relay parsed it: a folded header may keep a leading space.)
        assert message.to == (row.to,) and message.subject.strip() == row.subject, message
        ids_by_content[(message.to, message.subject.strip(), message.body.strip())].add(
            message.message_id
        )
    twice = [ids for ids in ids_by_content.values() if len(ids) > 1]
    assert not twice, f"one message under several Message-IDs: {twice[:3]}"
    return MailFigures(
        outbox=len(rows),
        received=len(received),
        distinct_message_ids=len(counts),
        resent={mid: n for mid, n in counts.items() if n > 1},
    )


def assert_no_object_overwritten(installation: Installation) -> int:
    """One version per key in the versioned bucket: nothing was put twice or deleted and put
    again. Returns the number of objects."""
    versions = installation.object_versions()
    assert versions, "the bucket is empty"
    overwritten = {key: n for key, n in versions.items() if n != 1}
    assert not overwritten, f"objects written more than once: {overwritten}"
    return len(versions)
