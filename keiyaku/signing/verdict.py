"""What a verification proves about a document: the one verdict the public page and
``keiyaku verify`` show. Knows nothing of Django.

A sound signature or timestamp proves only that its bytes have not changed since and who made
it. Anyone can stamp a made-up file at a time-stamp authority, or sign it with a key of their
own; neither makes it a contract concluded on keiyaku. So the verdict names what was proven:

- ``CONCLUDED``: every approval signature was made by this keiyaku's signing certificate, all
  are intact, valid and trusted, and nothing changed after the last signature or timestamp;
- ``OTHER_SIGNER``: intact, but some approval signature was made by another certificate;
- ``TIMESTAMP_ONLY``: intact, but there are only document timestamps, no approval at all;
- ``UNSIGNED``: a readable PDF with neither signature nor timestamp (issue 14: it was called a
  failed signature, above an empty table);
- ``UNREADABLE``: not a PDF, or too damaged to read;
- ``FAILED``: a damaged signature, a change after the last one, or keiyaku's own signatures
  not trusted or not long-term valid when asked about a later moment.

A ``CONCLUDED`` document whose only approval is in :data:`CERTIFICATE_FIELD` is a certificate
of completion this keiyaku issued (:attr:`Verdict.is_certificate`), not a contract.

Invariants: only a ``CONCLUDED`` verdict has ``ok``, ``long_term`` or a line with
:attr:`ItemStatus.VALID` (the only things shown in green); anything else shows at most
:attr:`ItemStatus.INTACT`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509

from keiyaku.signing.validation import SIGNATURE, SignatureReport, VerificationReport

__all__ = ["CERTIFICATE_FIELD", "ItemStatus", "Line", "Outcome", "Verdict", "classify"]

CERTIFICATE_FIELD = "keiyaku-certificate"
"""The signature field of a certificate of completion (締結証明書) keiyaku signs (issue 14)."""


class Outcome(enum.StrEnum):
    CONCLUDED = "concluded"
    OTHER_SIGNER = "other_signer"
    TIMESTAMP_ONLY = "timestamp_only"
    UNSIGNED = "unsigned"
    UNREADABLE = "unreadable"
    FAILED = "failed"


class ItemStatus(enum.StrEnum):
    VALID = "valid"
    """Intact, valid and trusted, in a document this keiyaku concluded."""
    INTACT = "intact"
    """Intact, valid and trusted by itself, but the document's verdict is not ``CONCLUDED``:
    it holds for its own revision and proves nothing more."""
    UNTRUSTED = "untrusted"
    """Intact and valid, but its certificate (or its timestamp's) does not chain to a root we
    trust, or was revoked."""
    INVALID = "invalid"
    """Damaged, unreadable, or followed by changes it does not permit."""


@dataclass(frozen=True)
class Line:
    """One signature or document timestamp with the status to show for it."""

    item: SignatureReport
    status: ItemStatus


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    parties: int
    """Approval signatures made by this keiyaku (``CONCLUDED`` only, 0 otherwise)."""
    long_term: bool
    """PAdES B-LTA holds (``CONCLUDED`` only)."""
    lines: tuple[Line, ...]
    report: VerificationReport

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.CONCLUDED

    @property
    def is_certificate(self) -> bool:
        """A certificate of completion this keiyaku issued: concluded, and its one approval
        signature is in :data:`CERTIFICATE_FIELD`."""
        approvals = [line.item for line in self.lines if line.item.kind == SIGNATURE]
        return self.ok and [item.field_name for item in approvals] == [CERTIFICATE_FIELD]

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON, its ``ok`` and ``ltv_ok`` those of the verdict, each signature
        with its ``status``."""
        data = self.report.as_dict()
        for entry, line in zip(data["signatures"], self.lines, strict=True):
            entry["status"] = str(line.status)
        data.update(
            verdict=str(self.outcome), parties=self.parties, ok=self.ok, ltv_ok=self.long_term
        )
        return data


def classify(report: VerificationReport, *, service_certs: Iterable[x509.Certificate]) -> Verdict:
    """The verdict on ``report``; ``service_certs`` are this keiyaku's signing certificates."""
    ours = {cert.sha256.hex() for cert in service_certs}
    approvals = [item for item in report.signatures if item.kind == SIGNATURE]
    if not report.signatures:
        outcome = Outcome.UNSIGNED if report.readable else Outcome.UNREADABLE
    elif not report.untampered:
        outcome = Outcome.FAILED
    elif not approvals:
        outcome = Outcome.TIMESTAMP_ONLY
    elif any(item.signer_cert_sha256 not in ours for item in approvals):
        outcome = Outcome.OTHER_SIGNER
    elif report.ok:
        outcome = Outcome.CONCLUDED
    else:
        outcome = Outcome.FAILED
    concluded = outcome == Outcome.CONCLUDED
    return Verdict(
        outcome=outcome,
        parties=len(approvals) if concluded else 0,
        long_term=concluded and report.ltv_ok,
        lines=tuple(Line(item, _status(item, concluded)) for item in report.signatures),
        report=report,
    )


def _status(item: SignatureReport, concluded: bool) -> ItemStatus:
    if item.error or not (item.intact and item.valid):
        return ItemStatus.INVALID
    if not item.trusted or item.timestamp_ok is False:
        return ItemStatus.UNTRUSTED
    if not item.bottom_line:
        return ItemStatus.INVALID
    return ItemStatus.VALID if concluded else ItemStatus.INTACT
