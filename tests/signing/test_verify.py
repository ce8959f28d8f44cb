"""engine.verify: the verdict on a document, never an exception on bad input."""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from keiyaku.pki.authority import Authority
from keiyaku.signing import engine
from tests.fixtures_pki import SignedContract
from tests.pdfs import make_pdf, truncated_pdf


def _verify(pdf: bytes, authority: Authority, **kwargs) -> engine.VerificationReport:
    return engine.verify(pdf, trust_roots=[authority.root_cert], **kwargs)


def _flip(pdf: bytes, offset: int) -> bytes:
    data = bytearray(pdf)
    data[offset] ^= 0x01
    return bytes(data)


def test_a_finalised_contract_verifies(
    signed_contract: SignedContract, authority: Authority
) -> None:
    report = _verify(signed_contract.final, authority)
    assert report.ok and report.ltv_ok and report.error is None, report.as_dict()
    assert not report.simulated
    kinds = [(s.field_name, s.kind) for s in report.signatures]
    assert kinds == [
        *((name, engine.SIGNATURE) for name in signed_contract.field_names),
        ("keiyaku-timestamp-01", engine.DOCUMENT_TIMESTAMP),
    ]
    for item, reason in zip(report.signatures, signed_contract.reasons, strict=False):
        assert item.reason == reason
        assert "keiyaku 電子署名サービス" in (item.signer or "")
        assert item.intact and item.valid and item.trusted and item.timestamp_ok
        assert item.ltv and item.ltv_detail == "OK"
        assert item.timestamp_time is not None and item.signing_time is not None
        assert abs(item.timestamp_time - item.signing_time) < dt.timedelta(minutes=1)
        assert item.coverage == "ENTIRE_REVISION"
    assert [s.modification_level for s in report.signatures] == [
        "FORM_FILLING",
        "FORM_FILLING",
        "LTA_UPDATES",
        "NONE",
    ]
    assert report.signatures[-1].coverage == "ENTIRE_FILE"
    assert "Time-Stamp Authority" in (report.signatures[-1].signer or "")


def test_report_is_json(signed_contract: SignedContract, authority: Authority) -> None:
    data = json.loads(json.dumps(_verify(signed_contract.final, authority).as_dict()))
    assert data["ok"] is True
    assert data["signatures"][0]["field_name"] == "keiyaku-party-01"
    assert dt.datetime.fromisoformat(data["signatures"][0]["timestamp_time"])


def test_still_valid_eleven_years_later(
    signed_contract: SignedContract, authority: Authority
) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=11 * 366)
    report = _verify(signed_contract.final, authority, at=later)
    assert report.simulated and report.validated_at == later
    assert report.ok and report.ltv_ok, report.as_dict()


def test_signed_but_not_finalised_is_ok_without_ltv(
    signed_contract: SignedContract, authority: Authority
) -> None:
    report = _verify(signed_contract.signed[-1], authority)
    assert report.ok, report.as_dict()
    assert not report.ltv_ok
    later = _verify(
        signed_contract.signed[-1],
        authority,
        at=dt.datetime.now(dt.UTC) + dt.timedelta(days=11 * 366),
    )
    assert not later.ok and "long-term" in (later.error or "")


def test_a_flipped_byte_in_the_original_breaks_every_signature(
    signed_contract: SignedContract, authority: Authority
) -> None:
    pdf = signed_contract.final
    # A byte of page text, well inside the first revision (before any signature field).
    offset = pdf.index(b"stream", 200) + 40
    assert offset < len(signed_contract.prepared)
    report = _verify(_flip(pdf, offset), authority)
    assert not report.ok
    assert not any(s.intact for s in report.signatures)
    for name in (*signed_contract.field_names, "keiyaku-timestamp-01"):
        assert f"{name}: modified after signing" in (report.error or "")


def test_a_change_in_the_third_agreement_names_it(
    signed_contract: SignedContract, authority: Authority
) -> None:
    before, after = signed_contract.signed[1], signed_contract.signed[2]
    # The third party's claimed signing time (/M), inside its own revision.
    offset = after.index(b"/M (D", len(before)) + len(b"/M (D\\07220")
    report = _verify(_flip(signed_contract.final, offset), authority)
    assert not report.ok
    intact = {s.field_name: s.intact for s in report.signatures}
    assert intact == {
        "keiyaku-party-01": True,
        "keiyaku-party-02": True,
        "keiyaku-party-03": False,
        "keiyaku-timestamp-01": False,
    }
    assert "keiyaku-party-03: modified after signing" in (report.error or "")
    assert "keiyaku-party-01:" not in (report.error or "")


def test_a_change_after_the_last_timestamp_is_reported(
    signed_contract: SignedContract, authority: Authority
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed_contract.final))
    writer.root["/Lang"] = generic.TextStringObject("en")  # harmless, but after the seal
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    report = _verify(out.getvalue(), authority)
    assert not report.ok
    assert "changed after the last signature" in (report.error or "")
    assert report.signatures[-1].coverage == "ENTIRE_REVISION"


def test_an_unknown_root_is_not_trusted(signed_contract: SignedContract) -> None:
    from asn1crypto import x509

    from tests.pdfs import _self_signed

    stranger = x509.Certificate.load(_self_signed()[1])
    report = engine.verify(signed_contract.final, trust_roots=[stranger])
    assert not report.ok and not report.ltv_ok
    assert all(s.intact and not s.trusted for s in report.signatures)
    assert "keiyaku-party-01: not trusted" in (report.error or "")


@pytest.mark.parametrize(
    "pdf",
    [b"", b"%PDF-1.7\n", b"not a pdf at all", truncated_pdf()],
    ids=["empty", "header-only", "garbage", "truncated"],
)
def test_malformed_input_is_a_verdict_not_an_exception(pdf: bytes, authority: Authority) -> None:
    report = _verify(pdf, authority)
    assert not report.ok and not report.ltv_ok and report.error
    json.dumps(report.as_dict())


def test_truncated_signed_file_is_a_verdict(
    signed_contract: SignedContract, authority: Authority
) -> None:
    report = _verify(signed_contract.final[: len(signed_contract.final) - 5000], authority)
    assert not report.ok and report.error


def test_an_unsigned_document_is_not_ok(authority: Authority) -> None:
    report = _verify(make_pdf(), authority)
    assert not report.ok and report.error == "the document has no signature"


@pytest.mark.parametrize("later", [False, True], ids=["now", "eleven_years_later"])
def test_each_revision_is_analysed_once_per_document(
    signed_contract: SignedContract, authority: Authority, monkeypatch, later: bool
) -> None:
    """pyHanko re-ran the difference analysis of every document timestamp for each signature's
    PAdES-LTA validation (n² analyses: 12.97 s for 17 signatures, 3.44 s once each)."""
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    analysed: list[str] = []
    original = EmbeddedPdfSignature.evaluate_modifications

    def counted(self, diff_policy):
        analysed.append(self.field_name)
        return original(self, diff_policy)

    monkeypatch.setattr(EmbeddedPdfSignature, "evaluate_modifications", counted)
    at = dt.datetime.now(dt.UTC) + dt.timedelta(days=11 * 366) if later else None
    report = _verify(signed_contract.final, authority, at=at)
    assert report.ok and report.ltv_ok, report.as_dict()
    names = [s.field_name for s in report.signatures]
    assert sorted(analysed) == sorted(names), analysed


def test_the_report_holds_plain_values_only(
    signed_contract: SignedContract, authority: Authority
) -> None:
    """A report crosses the validation child's pipe and becomes JSON: a pyHanko string in it
    carried the whole parsed document (2 MB pickled for 17 signatures, and a 10 s deep copy
    in `as_dict`)."""
    import pickle

    report = _verify(signed_contract.final, authority)
    for item in report.signatures:
        for value in (item.field_name, item.signer, item.reason, item.ltv_detail):
            assert value is None or type(value) is str, (type(value), value)
    assert len(pickle.dumps(report)) < 4_000 * len(report.signatures)
    data = report.as_dict()
    assert all(type(entry["field_name"]) is str for entry in data["signatures"])
