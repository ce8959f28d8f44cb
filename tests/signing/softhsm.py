"""A private SoftHSM2 token for tests: its own configuration and token folder, a key pair
generated inside it (non-extractable, sensitive), a certificate issued for it through a CSR the
token signed, and the ``KEIYAKU_SIGNER_PKCS11_*`` settings that use it.

SoftHSM reads ``SOFTHSM2_CONF`` when a process first initialises the module, so one token
serves a whole test process (the fixture that makes it is module-scoped and sets the variable
before anything loads the module).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from keiyaku.pki.authority import Authority
from keiyaku.signing.hsm import Pkcs11Config, certification_request

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "keiyaku-test"
KEY_LABEL = "keiyaku-signer"
KEY_ID = b"\x4b\x01"
EC_KEY_LABEL = "keiyaku-signer-ec"
EC_KEY_ID = b"\x4b\x02"
PIN = "4321-user-pin"
SO_PIN = "8765-security-officer"


@dataclass(frozen=True)
class SoftHsmToken:
    folder: Path
    conf: Path
    cert_pem: Path
    """The issued signing certificate, then the root (PEM)."""
    cert_der: bytes
    """The RSA key's certificate (DER)."""
    ec_cert_pem: Path
    """The EC (P-256) key's certificate, then the root (PEM)."""

    def config(self, *, cert_from_token: bool = False, ec: bool = False) -> Pkcs11Config:
        """The RSA key (or the EC key), its certificate from the PEM file or the token."""
        from keiyaku.signing.hsm import load_certificate_chain

        return Pkcs11Config(
            module=MODULE,
            token_label=TOKEN_LABEL,
            pin=PIN,
            key_label=EC_KEY_LABEL if ec else KEY_LABEL,
            key_id=EC_KEY_ID if ec else KEY_ID,
            cert_chain_pem=()
            if cert_from_token
            else load_certificate_chain(self.ec_cert_pem if ec else self.cert_pem),
        )

    def settings(self) -> dict[str, str]:
        """The environment that makes keiyaku sign with this token."""
        return {
            "KEIYAKU_SIGNER_PKCS11_MODULE": MODULE,
            "KEIYAKU_SIGNER_PKCS11_TOKEN_LABEL": TOKEN_LABEL,
            "KEIYAKU_SIGNER_PKCS11_KEY_LABEL": KEY_LABEL,
            "KEIYAKU_SIGNER_PKCS11_KEY_ID": KEY_ID.hex(),
            "KEIYAKU_SIGNER_PKCS11_PIN": PIN,
            "KEIYAKU_SIGNER_PKCS11_CERT": str(self.cert_pem),
            "SOFTHSM2_CONF": str(self.conf),
        }


def create_token(folder: Path, authority: Authority) -> SoftHsmToken:
    """Initialise a token in ``folder``, generate an RSA-2048 and an EC P-256 key pair inside
    it, have the token sign a CSR for each and ``authority``'s root issue a signing certificate
    (stored on the token too, with the key's label and ID). Sets ``SOFTHSM2_CONF`` in this
    process."""
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    tokens = folder / "tokens"
    tokens.mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        # A forked child starts the module afresh (keiyaku.signing.hsm re-initialises it).
        "library.reset_on_fork = true\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--so-pin",
            SO_PIN,
            "--pin",
            PIN,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    token = pkcs11.lib(MODULE).get_token(token_label=TOKEN_LABEL)
    protected = {
        Attribute.EXTRACTABLE: False,
        Attribute.SENSITIVE: True,
        Attribute.SIGN: True,
        Attribute.PRIVATE: True,
    }
    with token.open(user_pin=PIN, rw=True) as session:
        session.generate_keypair(
            KeyType.RSA, 2048, label=KEY_LABEL, id=KEY_ID, store=True, private_template=protected
        )
        parameters = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        parameters.generate_keypair(
            label=EC_KEY_LABEL, id=EC_KEY_ID, store=True, private_template=protected
        )
    certs = {}
    for label, key_id in ((KEY_LABEL, KEY_ID), (EC_KEY_LABEL, EC_KEY_ID)):
        # The CSR, signed by the token (the way an operator gets a certificate from a CA).
        request_der = certification_request(
            Pkcs11Config(
                module=MODULE, token_label=TOKEN_LABEL, pin=PIN, key_label=label, key_id=key_id
            ),
            subject={"country_name": "JP", "common_name": f"keiyaku HSM 署名 {label}"},
        )
        cert = issue(request_der, authority)
        certs[label] = folder / f"{label}-chain.pem"
        certs[label].write_bytes(
            cert.public_bytes(serialization.Encoding.PEM) + authority.root_pem()
        )
        with token.open(user_pin=PIN, rw=True) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: label,
                    Attribute.ID: key_id,
                    Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
                    Attribute.SUBJECT: cert.subject.public_bytes(),
                    Attribute.ISSUER: cert.issuer.public_bytes(),
                    Attribute.SERIAL_NUMBER: cert.serial_number.to_bytes(20, "big").lstrip(b"\0"),
                }
            )
    return SoftHsmToken(
        folder=folder,
        conf=conf,
        cert_pem=certs[KEY_LABEL],
        cert_der=asn1_pem_first(certs[KEY_LABEL]),
        ec_cert_pem=certs[EC_KEY_LABEL],
    )


def asn1_pem_first(path: Path) -> bytes:
    """The first certificate of a PEM file, as DER."""
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )


def issue(
    request_der: bytes, authority: Authority, *, non_repudiation: bool = True
) -> x509.Certificate:
    """What a CA does with the CSR: check its signature, issue a document-signing certificate
    (digitalSignature + nonRepudiation, CRL and OCSP pointers) under ``authority``'s root."""
    request = x509.load_der_x509_csr(request_der)
    assert request.is_signature_valid
    root = x509.load_der_x509_certificate(authority.root_cert.dump())
    root_key = authority.private_key("root")
    base = next(
        str(point.full_name[0].value)
        for ext in x509.load_der_x509_certificate(authority.signer_cert.dump()).extensions
        if isinstance(ext.value, x509.CRLDistributionPoints)
        for point in ext.value
    ).rsplit("/pki/crl", 1)[0]
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    public = request.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keiyaku"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "keiyaku HSM 署名"),
                ]
            )
        )
        .issuer_name(root.subject)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 3))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)  # type: ignore[arg-type]
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(f"{base}/pki/crl")],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    )
    return builder.sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
