"""Errors that address-book services raise for the user: the message is shown as it is."""

from __future__ import annotations


class AddressBookError(Exception):
    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
