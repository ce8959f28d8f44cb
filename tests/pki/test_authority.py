"""keiyaku's own authority: created once, reloaded identically, refused when damaged."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from keiyaku.pki.authority import (
    AuthorityError,
    ensure_authority,
    key_passphrase_positions,
    load_authority,
    reencrypt_keys,
)

BASE = "https://keiyaku.example.jp"


def _certificate(directory: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / f"{name}.crt.pem").read_bytes())


def test_second_call_loads_the_same_authority(tmp_path: Path) -> None:
    first = ensure_authority(tmp_path, passphrase=b"pw", base_url=BASE)
    again = ensure_authority(tmp_path, passphrase=b"pw", base_url="http://other")
    reloaded = load_authority(tmp_path, passphrase=b"pw")
    for other in (again, reloaded):
        assert other.root_cert.dump() == first.root_cert.dump()
        assert other.signer_cert.dump() == first.signer_cert.dump()
        assert other.tsa_key.dump() == first.tsa_key.dump()


def test_certificates_say_what_the_design_says(tmp_path: Path) -> None:
    ensure_authority(tmp_path, passphrase=b"pw", base_url=BASE)
    root, signer, tsa = (_certificate(tmp_path, n) for n in ("root", "signer", "tsa"))

    def years(cert: x509.Certificate) -> float:
        return (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365.25

    assert "CN=keiyaku Root CA" in root.subject.rfc4514_string()
    assert round(years(root)) == 30 and round(years(signer)) == 5 and round(years(tsa)) == 20
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    cn = signer.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "keiyaku 電子署名サービス"
    org = signer.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value
    assert org == "keiyaku"
    assert signer.public_key().key_size == 2048
    usage = signer.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign

    for leaf in (signer, tsa):
        crl = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert crl[0].full_name[0].value == f"{BASE}/pki/crl"
        aia = {
            d.access_method: d.access_location.value
            for d in leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        }
        assert aia[AuthorityInformationAccessOID.OCSP] == f"{BASE}/pki/ocsp"
        assert aia[AuthorityInformationAccessOID.CA_ISSUERS] == f"{BASE}/pki/root.crt"
        leaf.verify_directly_issued_by(root)

    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert signer.not_valid_before_utc <= dt.datetime.now(dt.UTC)


def test_keys_are_encrypted_and_private(tmp_path: Path) -> None:
    ensure_authority(tmp_path, passphrase=b"pw", base_url=BASE)
    for name in ("root", "signer", "tsa"):
        key_file = tmp_path / f"{name}.key.pem"
        assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert key_file.stat().st_mode & 0o077 == 0
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", tmp_path / "root.crt.pem", tmp_path / "signer.crt.pem"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    ensure_authority(tmp_path, passphrase=b"pw", base_url=BASE)
    with pytest.raises(AuthorityError, match="passphrase"):
        load_authority(tmp_path, passphrase=b"not-it")


def _dumps(authority) -> list[bytes]:
    return [
        getattr(authority, f"{name}_{part}").dump()
        for name in ("root", "signer", "tsa")
        for part in ("cert", "key")
    ]


def test_keys_are_encrypted_again_under_a_new_passphrase(tmp_path: Path) -> None:
    """Master key rotation: the keys and certificates stay, only their encryption changes."""
    before = ensure_authority(tmp_path, passphrase=b"old", base_url=BASE)
    certificates = {p.name: p.read_bytes() for p in tmp_path.glob("*.crt.pem")}
    with pytest.raises(AuthorityError, match="passphrase"):
        load_authority(tmp_path, passphrase=b"new")
    # Both accepted while rotating; the old one only among the older passphrases.
    rotating = load_authority(tmp_path, passphrase=b"new", older_passphrases=[b"old"])
    assert _dumps(rotating) == _dumps(before)
    assert key_passphrase_positions(tmp_path, passphrases=[b"new", b"old"]) == {
        "root": 1,
        "signer": 1,
        "tsa": 1,
    }
    with pytest.raises(AuthorityError, match="passphrase"):  # before anything is written
        reencrypt_keys(tmp_path, passphrase=b"new", older_passphrases=[b"other"])
    assert reencrypt_keys(tmp_path, passphrase=b"new", older_passphrases=[b"old"]) == (3, 0)
    assert reencrypt_keys(tmp_path, passphrase=b"new", older_passphrases=[b"old"]) == (0, 3)
    # The same keys and certificates, now under the new passphrase alone.
    assert _dumps(load_authority(tmp_path, passphrase=b"new")) == _dumps(before)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.crt.pem")} == certificates
    assert oct((tmp_path / "signer.key.pem").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(AuthorityError, match="passphrase"):
        load_authority(tmp_path, passphrase=b"old")


def test_incomplete_folder_is_refused_not_regenerated(tmp_path: Path) -> None:
    ensure_authority(tmp_path, passphrase=b"pw", base_url=BASE)
    root_before = (tmp_path / "root.crt.pem").read_bytes()
    (tmp_path / "tsa.key.pem").unlink()
    with pytest.raises(AuthorityError, match="incomplete"):
        ensure_authority(tmp_path, passphrase=b"pw", base_url=BASE)
    assert (tmp_path / "root.crt.pem").read_bytes() == root_before


def _create(directory: str, queue: multiprocessing.Queue) -> None:
    authority = ensure_authority(Path(directory), passphrase=b"pw", base_url=BASE)
    queue.put(authority.root_cert.sha256)


def test_two_processes_starting_at_once_share_one_authority(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_create, args=(str(tmp_path), queue)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert queue.get(timeout=5) == queue.get(timeout=5)
    assert sorted(p.name for p in tmp_path.glob("*.pem")) == sorted(
        f"{n}.{kind}.pem" for n in ("root", "signer", "tsa") for kind in ("crt", "key")
    )
