"""verdict.classify: what a verification proves, decided in one place."""

from __future__ import annotations

import pytest

from keiyaku.pki.authority import Authority
from keiyaku.signing import engine
from keiyaku.signing.engine import ServiceSigner
from keiyaku.signing.verdict import ItemStatus, Outcome, Verdict, classify
from tests.fixtures_pki import SignedContract
from tests.pdfs import (
    annotated_later,
    document_timestamped,
    make_pdf,
    make_test_signer,
    sign_incrementally,
)


@pytest.fixture
def judge(authority: Authority, service_signer: ServiceSigner):
    def run(pdf: bytes) -> Verdict:
        report = engine.verify(pdf, trust_roots=[authority.root_cert])
        return classify(report, service_certs=[service_signer.cert])

    return run


def test_every_approval_by_our_certificate_is_concluded(judge, signed_contract: SignedContract):
    verdict = judge(signed_contract.final)
    assert verdict.outcome == Outcome.CONCLUDED and verdict.ok
    assert verdict.parties == 3 and verdict.long_term
    assert [line.status for line in verdict.lines] == [ItemStatus.VALID] * 4


def test_before_the_closing_timestamp_it_is_concluded_but_not_long_term(
    judge, signed_contract: SignedContract
):
    verdict = judge(signed_contract.signed[1])
    assert verdict.outcome == Outcome.CONCLUDED
    assert verdict.parties == 2 and not verdict.long_term


def test_a_document_timestamp_alone_is_timestamp_only(judge, tsa_url: str):
    stamped = document_timestamped(make_pdf(), timestamper=engine.make_timestamper([tsa_url]))
    verdict = judge(stamped)
    assert verdict.report.ok  # the timestamp itself is sound ...
    assert verdict.outcome == Outcome.TIMESTAMP_ONLY  # ... and proves nothing more
    assert not verdict.ok and not verdict.long_term and verdict.parties == 0
    assert [line.status for line in verdict.lines] == [ItemStatus.INTACT]


def test_another_signer_is_not_ours_even_when_trusted(
    authority: Authority, service_signer: ServiceSigner
):
    pdf = sign_incrementally(make_pdf())
    stranger = make_test_signer().signing_cert
    report = engine.verify(pdf, trust_roots=[authority.root_cert, stranger])
    assert report.ok
    verdict = classify(report, service_certs=[service_signer.cert])
    assert verdict.outcome == Outcome.OTHER_SIGNER and not verdict.ok
    assert [line.status for line in verdict.lines] == [ItemStatus.INTACT]


def test_one_foreign_signature_among_ours_is_not_ours(judge, signed_contract: SignedContract):
    mixed = sign_incrementally(signed_contract.signed[0], field_name="Stranger")
    verdict = judge(mixed)
    assert verdict.outcome == Outcome.OTHER_SIGNER
    assert [line.status for line in verdict.lines] == [ItemStatus.INTACT, ItemStatus.UNTRUSTED]


def test_a_later_change_fails_and_nothing_is_valid(judge, signed_contract: SignedContract):
    verdict = judge(annotated_later(signed_contract.final))
    assert verdict.outcome == Outcome.FAILED and not verdict.ok
    assert not verdict.long_term and verdict.parties == 0
    assert ItemStatus.VALID not in [line.status for line in verdict.lines]


def test_a_later_change_to_a_timestamp_only_file_fails(judge, tsa_url: str):
    stamped = document_timestamped(make_pdf(), timestamper=engine.make_timestamper([tsa_url]))
    verdict = judge(annotated_later(stamped))
    assert verdict.outcome == Outcome.FAILED


def test_a_broken_signature_fails(judge, signed_contract: SignedContract):
    pdf = bytearray(signed_contract.final)
    pdf[pdf.index(b"stream", 200) + 40] ^= 0x01
    verdict = judge(bytes(pdf))
    assert verdict.outcome == Outcome.FAILED
    assert {line.status for line in verdict.lines} == {ItemStatus.INVALID}


def test_an_unsigned_file_is_unsigned_not_failed(judge):
    """Issue 14: an unsigned PDF was called a failed signature."""
    verdict = judge(make_pdf())
    assert verdict.outcome == Outcome.UNSIGNED and verdict.lines == () and not verdict.ok


def test_a_file_that_is_not_a_pdf_is_unreadable(judge):
    verdict = judge(b"GIF89a not a pdf")
    assert verdict.outcome == Outcome.UNREADABLE and verdict.lines == () and not verdict.ok


def test_our_signature_under_an_unknown_root_fails(
    signed_contract: SignedContract, service_signer: ServiceSigner
):
    stranger = make_test_signer().signing_cert
    report = engine.verify(signed_contract.final, trust_roots=[stranger])
    verdict = classify(report, service_certs=[service_signer.cert])
    assert verdict.outcome == Outcome.FAILED and not verdict.long_term
