"""The order of parties (R6): sequential steps, each one party or a parallel group.

`step` is derived from the order and each party's `parallel` flag ("together with the party
before"); it is stored so that the routing can be queried, and recomputed on every change.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from keiyaku.contracts.mail_table import MailEvent
from keiyaku.contracts.models import Contract, Party, PartyStatus
from keiyaku.contracts.services.notify import party_notify
from keiyaku.contracts.states import PARTY_ACTIVE, PARTY_COUNTED, party_sources


def restep(contract: Contract) -> None:
    """Renumber positions 1..n in order and derive the steps from the `parallel` flags."""
    step = 0
    for position, party in enumerate(
        contract.parties.filter(status__in=PARTY_COUNTED).order_by("position", "id"),
        start=1,
    ):
        if position == 1 or not party.parallel:
            step += 1
        Party.objects.filter(pk=party.pk).update(position=position, step=step)


def advance(contract: Contract, *, event: MailEvent = MailEvent.NEXT_TURN) -> None:
    """Ask every party of the first unfinished step; complete when every step is done.

    `event` is what the request mails answer (the send, or a finished step; mail_table.py).
    Idempotent: parties already asked are not asked again, so callers may run it after any
    change (send, agreement, approval, signature).
    """
    parties = list(contract.parties.filter(status__in=PARTY_ACTIVE).order_by("position"))
    pending = [p for p in parties if not p.is_done]
    if not pending:
        transaction.on_commit(lambda: _enqueue_finalize(contract.pk))
        return
    current = min(p.step for p in pending)
    for party in pending:
        if party.step == current and party.status in party_sources(PartyStatus.NOTIFIED):
            party_notify(party=party, event=event)


def _enqueue_finalize(contract_id: uuid.UUID) -> None:
    from keiyaku.contracts.tasks import finalize_contract

    finalize_contract(str(contract_id))
