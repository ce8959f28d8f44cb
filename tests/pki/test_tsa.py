"""keiyaku's RFC 3161 responder, checked by openssl, the reference implementation."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos, tsp

from keiyaku.pki import tsa
from keiyaku.pki.authority import Authority


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def files(tmp_path: Path, authority: Authority) -> Path:
    (tmp_path / "data.txt").write_bytes("契約書の内容".encode())
    (tmp_path / "root.pem").write_bytes(authority.root_pem())
    return tmp_path


def test_openssl_verifies_a_token_for_an_openssl_query(files: Path, authority: Authority) -> None:
    query = subprocess.run(
        ["openssl", "ts", "-query", "-data", files / "data.txt", "-sha256", "-cert"],
        capture_output=True,
        check=True,
    )
    (files / "reply.tsr").write_bytes(tsa.respond(query.stdout, authority=authority))

    verified = _openssl(
        "ts",
        "-verify",
        "-data",
        files / "data.txt",
        "-in",
        files / "reply.tsr",
        "-CAfile",
        files / "root.pem",
    )
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr

    text = _openssl("ts", "-reply", "-in", files / "reply.tsr", "-text").stdout
    assert "Status: Granted." in text
    assert f"Policy OID: {tsa.POLICY_OID}" in text
    assert "Hash Algorithm: sha256" in text
    assert "Nonce: 0x" in text


def test_token_echoes_the_request(authority: Authority) -> None:
    digest = bytes(range(48))
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha384"}),
                "hashed_message": digest,
            },
            "nonce": 123456789,
            "cert_req": False,
        }
    )
    when = dt.datetime(2026, 4, 1, 1, 2, 3, 456789, tzinfo=dt.UTC)
    reply = tsp.TimeStampResp.load(tsa.respond(request.dump(), authority=authority, now=when))
    signed_data = reply["time_stamp_token"]["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 123456789
    assert info["gen_time"].native == when.replace(microsecond=0)
    # certReq false: no certificates in the token.
    assert not signed_data["certificates"]
    attributes = {a["type"].native for a in signed_data["signer_infos"][0]["signed_attrs"]}
    assert "signing_certificate_v2" in attributes


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (b"not a request", "bad_data_format"),
        (b"", "bad_data_format"),
        (
            tsp.TimeStampReq(
                {
                    "version": "v1",
                    "message_imprint": {
                        "hash_algorithm": {"algorithm": "sha1"},
                        "hashed_message": bytes(20),
                    },
                }
            ).dump(),
            "bad_alg",
        ),
        (
            tsp.TimeStampReq(
                {
                    "version": "v1",
                    "message_imprint": {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "hashed_message": bytes(31),
                    },
                }
            ).dump(),
            "bad_data_format",
        ),
        (
            tsp.TimeStampReq(
                {
                    "version": "v1",
                    "message_imprint": {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "hashed_message": bytes(32),
                    },
                    "req_policy": "1.2.3.4",
                }
            ).dump(),
            "unaccepted_policy",
        ),
    ],
)
def test_bad_requests_are_rejected_not_raised(
    request_der: bytes, fail_info: str, authority: Authority, tmp_path: Path
) -> None:
    reply = tsa.respond(request_der, authority=authority)
    (tmp_path / "reply.tsr").write_bytes(reply)
    text = _openssl("ts", "-reply", "-in", tmp_path / "reply.tsr", "-text").stdout
    assert "Status: Rejected." in text
    status = tsp.PKIStatusInfo.load(_status_der(reply))
    assert status["status"].native == "rejection"
    assert fail_info in status["fail_info"].native


def _status_der(reply: bytes) -> bytes:
    # asn1crypto's TimeStampResp wrongly requires the token, so read the status field alone.
    from asn1crypto import core

    return core.Sequence.load(reply)[0].dump()


@pytest.mark.parametrize("year", [2049, 2050, 2051, 2080])
def test_a_token_stamped_in_2050_or_later_is_made_and_verifies(
    files: Path, authority: Authority, year: int
) -> None:
    """R21: archive timestamps are renewed for decades; UTCTime's two-digit year ends in 2049,
    and the responder failed to make any token from 2050 (RFC 5652 §11.3: GeneralizedTime)."""
    query = subprocess.run(
        ["openssl", "ts", "-query", "-data", files / "data.txt", "-sha256", "-cert"],
        capture_output=True,
        check=True,
    )
    when = dt.datetime(year, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
    reply = tsa.respond(query.stdout, authority=authority, now=when)
    (files / "reply.tsr").write_bytes(reply)
    token = tsp.TimeStampResp.load(reply)["time_stamp_token"]["content"]
    attributes = {
        a["type"].native: a["values"][0] for a in token["signer_infos"][0]["signed_attrs"]
    }
    assert attributes["signing_time"].native == when
    assert token["encap_content_info"]["content"].parsed["gen_time"].native == when
    # The token's own signature and imprint (the certificate's dates are not openssl's
    # concern here: -no_check_time would hide nothing else).
    verified = _openssl(
        "ts",
        "-verify",
        "-data",
        files / "data.txt",
        "-in",
        files / "reply.tsr",
        "-CAfile",
        files / "root.pem",
        "-no_check_time",
    )
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr
