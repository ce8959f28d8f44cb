"""What a document timestamp rests on, and when the renewal policy says it is due (R21)."""

from __future__ import annotations

import datetime as dt

import pytest

from keiyaku.pki import revocation
from keiyaku.pki.authority import Authority
from keiyaku.signing import archive, engine
from keiyaku.signing.archive import Retirement, TimestampInfo
from tests.fixtures_pki import SignedContract

NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
MARGIN = dt.timedelta(days=365)


def _info(**overrides) -> TimestampInfo:
    values = {
        "gen_time": NOW,
        "tsa_name": "TSA",
        "tsa_cert_sha256": "00" * 32,
        "tsa_not_after": NOW + dt.timedelta(days=800),
        "digest_algorithm": "sha256",
        "tsa_digest_algorithm": "sha256",
        "key_algorithm": "rsa2048",
    }
    return TimestampInfo(**{**values, **overrides})


def test_a_policy_is_parsed_from_its_setting_text() -> None:
    policy = archive.parse_retirements("sha256 after 2040-01-01; RSA2048 after 2035-01-01,")
    assert policy == (
        Retirement("sha256", dt.datetime(2040, 1, 1, tzinfo=dt.UTC)),
        Retirement("rsa2048", dt.datetime(2035, 1, 1, tzinfo=dt.UTC)),
    )
    assert str(policy[1]) == "rsa2048 after 2035-01-01"
    assert archive.parse_retirements("  ") == ()


@pytest.mark.parametrize(
    "text",
    ["sha256", "sha256 before 2040-01-01", "md5 after 2020-01-01", "sha256 after 2040-13-01"],
)
def test_a_malformed_policy_is_refused_naming_the_entry(text: str) -> None:
    with pytest.raises(ValueError, match=text.split()[0]):
        archive.parse_retirements(text)


def test_a_timestamp_is_due_when_its_tsa_certificate_ends_within_the_margin() -> None:
    soon = _info(tsa_not_after=NOW + dt.timedelta(days=300))
    assert archive.due_reason(soon, now=NOW, margin=MARGIN, policy=()) == (
        archive.EXPIRY,
        (NOW + dt.timedelta(days=300)).date().isoformat(),
    )
    assert archive.due_reason(_info(), now=NOW, margin=MARGIN, policy=()) is None


@pytest.mark.parametrize("field", ["digest_algorithm", "tsa_digest_algorithm", "key_algorithm"])
def test_a_retired_algorithm_makes_a_timestamp_due_from_the_policy_date(field: str) -> None:
    algorithm = "rsa2048" if field == "key_algorithm" else "sha256"
    others = {
        "digest_algorithm": "sha512",
        "tsa_digest_algorithm": "sha512",
        "key_algorithm": "rsa4096",
    }
    info = _info(**{**others, field: algorithm})
    policy = archive.parse_retirements(f"{algorithm} after 2030-06-02")
    assert archive.due_reason(info, now=NOW, margin=MARGIN, policy=policy) is None
    later = NOW + dt.timedelta(days=1)
    assert archive.due_reason(info, now=later, margin=MARGIN, policy=policy) == (
        archive.ALGORITHM,
        f"{algorithm} after 2030-06-02",
    )


def test_a_renewal_uses_the_first_hash_the_policy_has_not_retired() -> None:
    policy = archive.parse_retirements("sha256 after 2030-01-01, sha384 after 2031-01-01")
    assert archive.renewal_digest((), now=NOW) == "sha256"
    assert archive.renewal_digest(policy, now=NOW) == "sha384"
    assert archive.renewal_digest(policy, now=NOW.replace(year=2031)) == "sha512"
    everything = archive.parse_retirements(
        "sha256 after 2030-01-01, sha384 after 2030-01-01, sha512 after 2030-01-01"
    )
    with pytest.raises(ValueError, match="every hash"):
        archive.renewal_digest(everything, now=NOW)


def test_the_newest_document_timestamp_is_read_from_the_pdf(
    signed_contract: SignedContract, authority: Authority
) -> None:
    info = archive.newest_document_timestamp(signed_contract.final)
    assert info is not None
    assert info.tsa_name == authority.tsa_cert.subject.human_friendly
    assert info.tsa_cert_sha256 == authority.tsa_cert.sha256.hex()
    assert info.tsa_not_after == authority.tsa_cert.not_valid_after
    assert (info.digest_algorithm, info.tsa_digest_algorithm, info.key_algorithm) == (
        "sha256",
        "sha256",
        "rsa2048",
    )
    assert archive.newest_document_timestamp(signed_contract.signed[0]) is None


def test_renew_with_sha512_stamps_a_sha512_imprint(
    signed_contract: SignedContract, authority: Authority, tsa_url: str
) -> None:
    renewed = engine.renew(
        signed_contract.final,
        timestamper=engine.make_timestamper([tsa_url]),
        validation_context=revocation.validation_context(authority),
        md_algorithm="sha512",
    )
    info = archive.newest_document_timestamp(renewed)
    assert info is not None and info.digest_algorithm == "sha512"
    report = engine.verify(renewed, trust_roots=[authority.root_cert])
    assert report.ok and report.ltv_ok, report.as_dict()
