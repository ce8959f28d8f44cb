"""Errors that services raise for the user: the message is shown as it is (Japanese)."""

from __future__ import annotations


class ContractError(Exception):
    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
