"""keiyaku's own certification authority: a root, the service signing certificate, a TSA.

The authority lives in one folder: three certificates as PEM and three private keys as
passphrase-encrypted PKCS#8 PEM. It is created once, on first start, and only read afterwards.

Invariants:
- A folder holds either no authority files or all six; anything in between is refused, never
  "repaired" (regenerating would silently replace a root that signed contracts).
- Creation is serialised with an ``fcntl`` lock and every file is written to a temporary name and
  renamed, so two processes starting at once end up with the same authority.
- The private keys open with the passphrase or any of ``older_passphrases`` (the master key and
  the previous ones while it is rotated); `reencrypt_keys` rewrites those that need an older one
  under the passphrase, one file at a time and atomically, so a run stopped half way leaves every
  key readable and the next run finishes.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

__all__ = [
    "Authority",
    "AuthorityError",
    "ensure_authority",
    "key_passphrase_positions",
    "load_authority",
    "reencrypt_keys",
]

ROOT_NAME = "keiyaku Root CA"
SIGNER_NAME = "keiyaku 電子署名サービス"
TSA_NAME = "keiyaku Time-Stamp Authority"

# Years of validity. The root outlives everything it issues; the TSA outlives every signing
# certificate so that archive timestamps can be renewed long after signatures were made.
ROOT_YEARS = 30
SIGNER_YEARS = 5
TSA_YEARS = 20
# Certificates start a little in the past: a validator whose clock lags ours must not see a
# certificate that is "not yet valid".
BACKDATE = dt.timedelta(minutes=10)

_FILES = {
    "root_cert": "root.crt.pem",
    "root_key": "root.key.pem",
    "signer_cert": "signer.crt.pem",
    "signer_key": "signer.key.pem",
    "tsa_cert": "tsa.crt.pem",
    "tsa_key": "tsa.key.pem",
}


class AuthorityError(RuntimeError):
    """The authority folder cannot be used (incomplete, wrong passphrase, unreadable)."""


@dataclass(frozen=True)
class Authority:
    """The loaded authority: certificates and keys as asn1crypto objects (what pyHanko takes)."""

    root_cert: asn1_x509.Certificate
    """Self-signed trust anchor; signs the other two certificates, the CRL and OCSP responses."""
    root_key: asn1_keys.PrivateKeyInfo
    signer_cert: asn1_x509.Certificate
    """The service's signing certificate: every party's agreement is signed with it."""
    signer_key: asn1_keys.PrivateKeyInfo
    tsa_cert: asn1_x509.Certificate
    """The RFC 3161 time-stamp authority's certificate (EKU timeStamping, critical)."""
    tsa_key: asn1_keys.PrivateKeyInfo
    _parsed: dict[str, PrivateKeyTypes] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def root_pem(self) -> bytes:
        """The root certificate as PEM (what a user imports to trust keiyaku's signatures)."""
        return asn1_pem.armor("CERTIFICATE", self.root_cert.dump())

    def private_key(self, name: str) -> PrivateKeyTypes:
        """``name`` in {"root", "signer", "tsa"}: the key as a ``cryptography`` object.

        Parsed once and kept: parsing an RSA key checks it, which costs milliseconds per call.
        """
        if name not in self._parsed:
            info: asn1_keys.PrivateKeyInfo = getattr(self, f"{name}_key")
            self._parsed[name] = serialization.load_der_private_key(info.dump(), password=None)
        return self._parsed[name]


def ensure_authority(
    directory: Path,
    *,
    passphrase: bytes,
    base_url: str,
    older_passphrases: Sequence[bytes] = (),
) -> Authority:
    """Load the authority in ``directory``, creating it first if the folder has none.

    ``base_url`` (e.g. ``https://keiyaku.example.jp``) is written into the issued certificates
    as CRL, OCSP and CA-issuer locations; it is only used at creation. New keys are encrypted
    with ``passphrase``; existing ones open with it or one of ``older_passphrases``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        # Any existing file means "already created": a partial set is refused by load_authority.
        if not any((directory / fname).exists() for fname in _FILES.values()):
            _create(directory, passphrase=passphrase, base_url=base_url.rstrip("/"))
        return load_authority(directory, passphrase=passphrase, older_passphrases=older_passphrases)


KEY_NAMES = ("root", "signer", "tsa")


def _load_key(path: Path, passphrases: Sequence[bytes]) -> tuple[PrivateKeyTypes, int]:
    """The private key in ``path`` and the position of the passphrase that opened it.

    The keys are the authority's own, made by :func:`_create` and encrypted with the master
    key, so OpenSSL's RSA consistency check is skipped: it cost about 0.2 s a key in every
    process that signs, serves a timestamp or checks the master key (cryptography's
    ``unsafe_skip_rsa_key_validation``, meant for keys whose origin is known). A file changed
    by anyone without the master key does not decrypt to a key and is refused as before.
    """
    data = path.read_bytes()
    for position, passphrase in enumerate(passphrases):
        try:
            key = serialization.load_pem_private_key(
                data, password=passphrase, unsafe_skip_rsa_key_validation=True
            )
            return key, position
        except (ValueError, TypeError):
            continue
    raise AuthorityError(
        f"cannot decrypt {path.name}: wrong passphrase? (the master key, or none of the "
        "previous ones, encrypted it)"
    )


def load_authority(
    directory: Path, *, passphrase: bytes, older_passphrases: Sequence[bytes] = ()
) -> Authority:
    """Read an existing authority; raise :class:`AuthorityError` if it is missing or damaged, or
    a key opens with neither ``passphrase`` nor any of ``older_passphrases``."""
    directory = Path(directory)
    missing = [fname for fname in _FILES.values() if not (directory / fname).exists()]
    if missing:
        raise AuthorityError(f"authority in {directory} is incomplete: missing {missing}")
    values: dict[str, object] = {}
    parsed: dict[str, PrivateKeyTypes] = {}
    passphrases = [passphrase, *older_passphrases]
    for name in KEY_NAMES:
        cert = x509.load_pem_x509_certificate((directory / _FILES[f"{name}_cert"]).read_bytes())
        key, _position = _load_key(directory / _FILES[f"{name}_key"], passphrases)
        if _spki(key.public_key()) != _spki(cert.public_key()):
            raise AuthorityError(f"the {name} key does not match its certificate")
        values[f"{name}_cert"] = asn1_x509.Certificate.load(
            cert.public_bytes(serialization.Encoding.DER)
        )
        values[f"{name}_key"] = asn1_keys.PrivateKeyInfo.load(_pkcs8_der(key))
        parsed[name] = key
    authority = Authority(**values)  # type: ignore[arg-type]
    authority._parsed.update(parsed)
    return authority


def key_passphrase_positions(
    directory: Path, *, passphrases: Sequence[bytes]
) -> dict[str, int | None]:
    """For each private key file of the authority in ``directory`` ("root", "signer", "tsa";
    none when the folder holds no authority): the position in ``passphrases`` of the first
    passphrase that opens it, or None when none does. Reads only."""
    directory = Path(directory)
    positions: dict[str, int | None] = {}
    for name in KEY_NAMES:
        path = directory / _FILES[f"{name}_key"]
        if not path.exists():
            continue
        try:
            positions[name] = _load_key(path, passphrases)[1]
        except AuthorityError:
            positions[name] = None
    return positions


def reencrypt_keys(
    directory: Path, *, passphrase: bytes, older_passphrases: Sequence[bytes]
) -> tuple[int, int]:
    """Encrypt again with ``passphrase`` every private key of the authority in ``directory`` that
    opens only with one of ``older_passphrases``; return how many were rewritten and how many
    already opened with ``passphrase`` ((0, 0) when the folder holds no authority).

    The keys themselves, and so the certificates, stay the same. Each file is replaced
    atomically under the authority's lock. Raises AuthorityError, before writing anything, when
    a key opens with none of the passphrases.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return 0, 0
    passphrases = [passphrase, *older_passphrases]
    with _locked(directory):
        loaded = {}
        for name in KEY_NAMES:
            path = directory / _FILES[f"{name}_key"]
            if path.exists():
                loaded[name] = _load_key(path, passphrases)
        encryption = serialization.BestAvailableEncryption(passphrase)
        rewritten = unchanged = 0
        for name, (key, position) in loaded.items():
            if position == 0:
                unchanged += 1
                continue
            _write_atomically(
                directory / _FILES[f"{name}_key"], _key_pem(key, encryption), private=True
            )
            rewritten += 1
    return rewritten, unchanged


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(directory: Path, *, passphrase: bytes, base_url: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - BACKDATE
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    root_name = _name(ROOT_NAME)
    root_cert = (
        _builder(root_name, root_name, root_key.public_key(), now, ROOT_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )

    signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer_cert = _leaf(
        _builder(_name(SIGNER_NAME), root_name, signer_key.public_key(), now, SIGNER_YEARS),
        signer_key.public_key(),
        root_key.public_key(),
        base_url,
    ).add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)

    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_cert = (
        _leaf(
            _builder(_name(TSA_NAME), root_name, tsa_key.public_key(), now, TSA_YEARS),
            tsa_key.public_key(),
            root_key.public_key(),
            base_url,
        )
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    )

    encryption = serialization.BestAvailableEncryption(passphrase)
    files = {
        "root_key": _key_pem(root_key, encryption),
        "signer_key": _key_pem(signer_key, encryption),
        "tsa_key": _key_pem(tsa_key, encryption),
        "root_cert": root_cert.public_bytes(serialization.Encoding.PEM),
        "signer_cert": signer_cert.sign(root_key, hashes.SHA256()).public_bytes(
            serialization.Encoding.PEM
        ),
        "tsa_cert": tsa_cert.sign(root_key, hashes.SHA256()).public_bytes(
            serialization.Encoding.PEM
        ),
    }
    for name, data in files.items():
        _write_atomically(directory / _FILES[name], data, private=name.endswith("_key"))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keiyaku"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    not_before: dt.datetime,
    years: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=365 * years + years // 4))
    )


def _leaf(
    builder: x509.CertificateBuilder,
    subject_key: rsa.RSAPublicKey,
    issuer_key: rsa.RSAPublicKey,
    base_url: str,
) -> x509.CertificateBuilder:
    """End-entity extensions shared by the signing and TSA certificates.

    Both carry a CRL distribution point and an OCSP pointer so that validators (and pyHanko's
    LTV machinery) know where revocation information lives, and a caIssuers link to the root.
    """
    return (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(f"{base_url}/pki/crl")],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"{base_url}/pki/ocsp"),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(f"{base_url}/pki/root.crt"),
                    ),
                ]
            ),
            critical=False,
        )
    )


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: PrivateKeyTypes, encryption: serialization.KeySerializationEncryption) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _pkcs8_der(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_atomically(path: Path, data: bytes, *, private: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
