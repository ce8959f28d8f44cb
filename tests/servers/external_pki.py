"""Trust services keiyaku did not make: an external CA hierarchy and a separate TSA, on loopback.

Two independent hierarchies, each with its own HTTP server on 127.0.0.1, the way a commercial
CA (an AATL member, a Japanese accredited certification service) and an accredited TSA
publish theirs:

- **The CA** (``ExternalCA``): ``Example Trust Root CA`` → ``Example Trust Document Signing CA``
  (intermediate) → ``keiyaku 電子契約 (Example Trust)``, a document-signing certificate (key
  usage digitalSignature + nonRepudiation). Every certificate below the root names the server
  in its AIA (caIssuers, and OCSP for the leaf) and CRL distribution point. The server answers
  ``GET /certs/<ca>.crt`` (DER), ``GET /crl/<ca>.crl`` (a fresh CRL signed by that CA), and
  ``POST /ocsp/<ca>`` (RFC 6960, signed by that CA itself) for ``<ca>`` in ``root``, ``ca``.
- **The TSA** (``ExternalTSA``): ``Example Time Root CA`` → ``Example Time-Stamp Unit 1``
  (EKU timeStamping, critical), with the same three kinds of endpoint for its root, and
  ``POST /tsa``: RFC 3161, answered by pyHanko's own token builder (``DummyTimeStamper``).

Each server can be stopped and started again on the same port (``down()``, ``up()``): while
down, connections are refused, as for a CA whose responder is out. Certificates are made once
per test session (RSA, a few hundred milliseconds); the signing key comes as a PKCS#12 file,
the form an operator receives it in (``KEIYAKU_SIGNER_PKCS12``).

    with external_ca(tmp) as ca, external_tsa() as tsa:
        ca.pkcs12_path, ca.pkcs12_password, ca.root_pem_path, tsa.url, tsa.root_pem_path
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

__all__ = ["ExternalCA", "ExternalTSA", "external_ca", "external_tsa"]

NEXT_UPDATE = dt.timedelta(days=7)
BACKDATE = dt.timedelta(minutes=10)
YEAR = dt.timedelta(days=365)


@dataclass
class Issuer:
    """One CA of a hierarchy: its certificate and key, and what it has issued (by serial)."""

    name: str
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    issued: dict[int, x509.Certificate] = field(default_factory=dict)
    revoked: set[int] = field(default_factory=set)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    *,
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: Issuer | None,
    years: int,
    ca: bool,
    base_url: str,
    key_usage: dict[str, bool],
    eku: list[x509.ObjectIdentifier] | None = None,
    ocsp_url: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - BACKDATE
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + years * YEAR)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=(1 if issuer is None else 0) if ca else None),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=key_usage.get("digital_signature", False),
                content_commitment=key_usage.get("content_commitment", False),
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    if issuer is not None:
        access = [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(f"{base_url}/certs/{issuer.name}.crt"),
            )
        ]
        if ocsp_url:
            access.insert(
                0,
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(f"{base_url}/ocsp/{issuer.name}"),
                ),
            )
        builder = (
            builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
            .add_extension(x509.AuthorityInformationAccess(access), critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[
                                x509.UniformResourceIdentifier(f"{base_url}/crl/{issuer.name}.crl")
                            ],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
        )
    cert = builder.sign(signer_key, hashes.SHA256())
    if issuer is not None:
        issuer.issued[cert.serial_number] = cert
    return cert


def _crl(issuer: Issuer) -> bytes:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now)
        .next_update(now + NEXT_UPDATE)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    for serial in sorted(issuer.revoked):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(hours=1))
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _ocsp(issuer: Issuer, request_der: bytes) -> bytes:
    try:
        request = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        ).public_bytes(serialization.Encoding.DER)
    cert = issuer.issued.get(request.serial_number)
    if cert is None:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.UNAUTHORIZED
        ).public_bytes(serialization.Encoding.DER)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    revoked = request.serial_number in issuer.revoked
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=cert,
            issuer=issuer.cert,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + NEXT_UPDATE,
            revocation_time=now - dt.timedelta(hours=1) if revoked else None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        .certificates([issuer.cert])
    )
    for extension in request.extensions:
        if isinstance(extension.value, x509.OCSPNonce):
            builder = builder.add_extension(extension.value, critical=False)
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class _Server:
    """A loopback HTTP server for one hierarchy, that can go down and come back on its port."""

    def __init__(self, issuers: dict[str, Issuer]) -> None:
        self.issuers = issuers
        self.tsa: DummyTimeStamper | None = None
        self.requests: list[str] = []
        """``"GET /crl/ca.crl"``, …: every request answered, in order."""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Listen (again, on the same port once it had one)."""
        if self._server is not None:
            return
        handler = _handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._server = server

    def down(self) -> None:
        """Stop listening: connections to the port are refused until :meth:`up`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests.append(f"{method} {path}")
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "certs":
            issuer = self.issuers.get(parts[1].removesuffix(".crt"))
            if issuer:
                der = issuer.cert.public_bytes(serialization.Encoding.DER)
                return 200, "application/pkix-cert", der
        if method == "GET" and len(parts) == 2 and parts[0] == "crl":
            issuer = self.issuers.get(parts[1].removesuffix(".crl"))
            if issuer:
                return 200, "application/pkix-crl", _crl(issuer)
        if parts[0] == "ocsp" and len(parts) >= 2 and parts[1] in self.issuers:
            if method == "GET" and len(parts) == 3:
                body = base64.b64decode(unquote(parts[2]))
            return 200, "application/ocsp-response", _ocsp(self.issuers[parts[1]], body)
        if method == "POST" and parts == ["tsa"] and self.tsa is not None:
            request = tsp.TimeStampReq.load(body)
            reply = self.tsa.request_tsa_response(request).dump()
            return 200, "application/timestamp-reply", reply
        return 404, "text/plain", b"not found"


def _handler(state: _Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, content_type, reply = state.answer(self.command, self.path, body)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = _serve  # noqa: N815 - http.server's naming
        do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass
class ExternalCA:
    """The signing hierarchy and its server; files for keiyaku's settings under ``folder``."""

    server: _Server
    root: Issuer
    intermediate: Issuer
    signer_cert: x509.Certificate
    pkcs12_path: Path
    pkcs12_password: str
    root_pem_path: Path

    @property
    def root_asn1(self) -> asn1_x509.Certificate:
        return _asn1(self.root.cert)

    @property
    def names(self) -> dict[str, asn1_x509.Name]:
        """The issuers of this hierarchy by role ("root", "ca"), as asn1crypto names."""
        return {"root": self.root_asn1.subject, "ca": _asn1(self.intermediate.cert).subject}


@dataclass
class ExternalTSA:
    """The time-stamp hierarchy and its server."""

    server: _Server
    root: Issuer
    tsa_cert: x509.Certificate
    root_pem_path: Path

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/tsa"

    @property
    def root_asn1(self) -> asn1_x509.Certificate:
        return _asn1(self.root.cert)

    @property
    def tsa_pem(self) -> bytes:
        return _pem(self.tsa_cert)


def _root(server: _Server, common_name: str, organisation: str) -> Issuer:
    """A self-signed root of 25 years whose AIA and CRL URLs point at ``server``."""
    key = _key()
    certificate = _certificate(
        subject=_name(common_name, organisation),
        key=key,
        issuer=None,
        years=25,
        ca=True,
        base_url=server.base_url,
        key_usage={},
    )
    return Issuer("root", certificate, key)


@contextmanager
def external_ca(folder: Path) -> Iterator[ExternalCA]:
    """Start the signing hierarchy's server and issue its certificates (root 25 years,
    intermediate 12, document-signing certificate 3: it expires long before an 11-year
    validation, as a real one would)."""
    issuers: dict[str, Issuer] = {}
    server = _Server(issuers)
    server.up()
    try:
        organisation = "Example Trust K.K."
        root = _root(server, "Example Trust Root CA", organisation)
        ca_key = _key()
        intermediate = Issuer(
            "ca",
            _certificate(
                subject=_name("Example Trust Document Signing CA", organisation),
                key=ca_key,
                issuer=root,
                years=12,
                ca=True,
                base_url=server.base_url,
                key_usage={},
            ),
            ca_key,
        )
        issuers.update(root=root, ca=intermediate)
        signer_key = _key()
        signer = _certificate(
            subject=_name("keiyaku 電子契約 (Example Trust)", "テスト市"),
            key=signer_key,
            issuer=intermediate,
            years=3,
            ca=False,
            base_url=server.base_url,
            key_usage={"digital_signature": True, "content_commitment": True},
            ocsp_url=True,
        )
        folder.mkdir(parents=True, exist_ok=True)
        password = "external-signer"  # noqa: S105 - a test file's password
        pkcs12_path = folder / "signer.p12"
        pkcs12_path.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"signer",
                signer_key,
                signer,
                [intermediate.cert],
                serialization.BestAvailableEncryption(password.encode()),
            )
        )
        root_pem_path = folder / "example-trust-root.pem"
        root_pem_path.write_bytes(_pem(root.cert))
        yield ExternalCA(server, root, intermediate, signer, pkcs12_path, password, root_pem_path)
    finally:
        server.down()


@contextmanager
def external_tsa(folder: Path) -> Iterator[ExternalTSA]:
    """Start the TSA: its own root (25 years) and a TSA certificate of 15 years, which the
    root's OCSP responder and CRL cover."""
    issuers: dict[str, Issuer] = {}
    server = _Server(issuers)
    server.up()
    try:
        organisation = "Example Time K.K."
        root = _root(server, "Example Time Root CA", organisation)
        issuers["root"] = root
        tsa_key = _key()
        tsa_cert = _certificate(
            subject=_name("Example Time-Stamp Unit 1", organisation),
            key=tsa_key,
            issuer=root,
            years=15,
            ca=False,
            base_url=server.base_url,
            key_usage={"digital_signature": True},
            eku=[ExtendedKeyUsageOID.TIME_STAMPING],
            ocsp_url=True,
        )
        server.tsa = DummyTimeStamper(
            tsa_cert=_asn1(tsa_cert),
            tsa_key=asn1_keys.PrivateKeyInfo.load(
                tsa_key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ),
        )
        folder.mkdir(parents=True, exist_ok=True)
        root_pem_path = folder / "example-time-root.pem"
        root_pem_path.write_bytes(_pem(root.cert))
        yield ExternalTSA(server, root, tsa_cert, root_pem_path)
    finally:
        server.down()
