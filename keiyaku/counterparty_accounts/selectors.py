"""What a counterparty's account may read (R3): the parties its address signed as, nothing else.

Every read of the account's pages goes through here, so that one organisation's contracts reach
an account only through a party that organisation addressed to it.
"""

from __future__ import annotations

from keiyaku.contracts.models import Party, PartyKind
from keiyaku.contracts.states import PARTY_AGREED
from keiyaku.counterparty_accounts.addresses import addresses_match
from keiyaku.counterparty_accounts.models import CounterpartyAccount


def parties_signed_by(account: CounterpartyAccount) -> list[Party]:
    """Every counterparty party, of any organisation, that the account's address agreed as
    (agreed, signed or approved), newest first, whether before or after the account was made:
    the one-time link proved the address, and these are the contracts mailed to it.

    Only counterparties (external parties): a staff signer's documents stay behind the staff
    login and its organisation's IP allow-list (R38). A forwarded party is not listed; the
    person it was forwarded to is, at their own address."""
    found = (
        Party.objects.filter(
            kind=PartyKind.EXTERNAL, status__in=PARTY_AGREED, email__iexact=account.email
        )
        .select_related("contract__organisation")
        .order_by("-agreed_at", "-id")
    )
    return [party for party in found if addresses_match(party.email, account.email)]


def party_of_account(account: CounterpartyAccount, party_id: int) -> Party | None:
    """One of `parties_signed_by(account)`, or None (the view answers 404)."""
    return next((p for p in parties_signed_by(account) if p.pk == party_id), None)


def address_has_signed(email: str) -> bool:
    """Whether any counterparty party agreed as ``email``: only such an address is sent a
    sign-in link, so keiyaku mails nobody it has not dealt with."""
    candidates = Party.objects.filter(
        kind=PartyKind.EXTERNAL, status__in=PARTY_AGREED, email__iexact=email
    ).values_list("email", flat=True)
    return any(addresses_match(found, email) for found in candidates)
