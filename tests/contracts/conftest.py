"""Fixtures of the contract tests: the short-lived TSA of the renewal tests (R21)."""

from tests.contracts.renewal_setup import short_tsa

__all__ = ["short_tsa"]
