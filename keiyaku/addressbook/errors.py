"""Errors that address-book services raise for the user: translated messages, stable codes."""

from __future__ import annotations

from keiyaku.refusals import Refusal


class AddressBookError(Refusal):
    """A refusal of the address-book services (see keiyaku.refusals)."""
