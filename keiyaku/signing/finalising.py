"""Finalising a PDF (PAdES B-LTA), or timestamping an imported one (R30), in a budgeted child,
with the TSA attempts it made recorded."""

from __future__ import annotations

from typing import Any

from keiyaku.signing import budget, engine
from keiyaku.signing.timestamping import FailoverTimeStamper, TimestampUnavailable, run_reporting
from keiyaku.signing.tsas import tsa_attempts_record


def finalize_budgeted(
    pdf: bytes, *, timestamper: FailoverTimeStamper, validation_context: engine.ValidationInputs
) -> bytes:
    """``engine.finalize(pdf, …)`` (validation data in the DSS, then a document timestamp) in a
    child process under the validation budget (issue 10, finding 7). The child's TSA attempts
    come back with its answer and are recorded for the operator (issue 13), on failure too.

    Args:
        pdf: the signed PDF (bytes).
        timestamper: the contract's failover timestamper (the child uses a copy).
        validation_context: what `get_validation_inputs` gathered for the chains involved.

    Raises:
        TimestampUnavailable: no TSA answered (after its attempts are recorded).
        BudgetExceeded: the child ran past the validation budget.
    """
    return _budgeted(engine.finalize, pdf, timestamper, validation_context)


def timestamp_budgeted(
    pdf: bytes, *, timestamper: FailoverTimeStamper, validation_context: engine.ValidationInputs
) -> bytes:
    """``engine.timestamp_document(pdf, …)`` (an imported PDF's document timestamp, R30) in a
    child process under the validation budget, the child's TSA attempts recorded, as
    :func:`finalize_budgeted` does. The PDF comes from outside keiyaku: pyHanko reads it only
    in the child.

    Raises:
        TimestampUnavailable: no TSA answered (after its attempts are recorded).
        BudgetExceeded: the child ran past the validation budget.
    """
    return _budgeted(engine.timestamp_document, pdf, timestamper, validation_context)


def _budgeted(
    step: Any,
    pdf: bytes,
    timestamper: FailoverTimeStamper,
    validation_context: engine.ValidationInputs,
) -> bytes:
    """``step(pdf, …)`` in a budgeted child; the child's TSA attempts recorded, on failure too."""
    try:
        data, attempts = budget.run(
            run_reporting,
            step,
            pdf,
            timestamper=timestamper,
            validation_context=validation_context,
        )
    except TimestampUnavailable as exc:
        tsa_attempts_record(exc.attempts)
        raise
    tsa_attempts_record(attempts)
    return data  # type: ignore[no-any-return]
