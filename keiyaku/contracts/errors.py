"""Errors that services raise for the user: translated messages, stable codes."""

from __future__ import annotations

from keiyaku.refusals import Refusal


class ContractError(Refusal):
    """A refusal of the contract services (see keiyaku.refusals)."""
