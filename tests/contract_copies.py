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
