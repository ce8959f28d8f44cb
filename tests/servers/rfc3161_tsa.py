"""RFC 3161 time-stamp authorities on loopback, well- or ill-behaved, for the TSA failover tests.

Each serves keiyaku's own TSA code (``keiyaku.pki.tsa.respond``) over HTTP or HTTPS in a thread,
under a signing identity of the test's choosing: keiyaku's authority, a second TSA certificate
issued by keiyaku's root (trusted, but another signer), or one under a root nobody trusts. It
may ask for HTTP Basic credentials and, over TLS, a client certificate; and it may misbehave:
``wrong_nonce``, ``wrong_imprint``, ``bad_signature`` (a token whose signature is broken),
``http_error`` (503) or ``hang`` (never answers until closed).
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keiyaku.pki import tsa
from tests.loopback_http import free_port

MISBEHAVIOURS = ("", "wrong_nonce", "wrong_imprint", "bad_signature", "http_error", "hang")


@dataclass(frozen=True)
class TsaIdentity:
    """A TSA certificate and its key, in the shape ``tsa.respond`` takes as its authority."""

    tsa_cert: asn1_x509.Certificate
    key: rsa.RSAPrivateKey
    root_cert: asn1_x509.Certificate

    def private_key(self, name: str) -> rsa.RSAPrivateKey:
        return self.key

    @property
    def common_name(self) -> str:
        return str(self.tsa_cert.subject.native["common_name"])


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keiyaku tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _certificate(
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    issuer_key: Any,
    *,
    ca: bool = False,
    usage: list[x509.ObjectIdentifier] | None = None,
    ip: str | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=True)
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(ip))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def tsa_identity_under(
    root_cert: asn1_x509.Certificate, root_key: Any, common_name: str
) -> TsaIdentity:
    """A TSA certificate (EKU timeStamping, critical) issued by ``root_cert``/``root_key``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = x509.load_der_x509_certificate(root_cert.dump()).subject
    cert = _certificate(
        _name(common_name),
        key.public_key(),
        issuer,
        root_key,
        usage=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    return TsaIdentity(tsa_cert=_asn1(cert), key=key, root_cert=root_cert)


def untrusted_tsa_identity(common_name: str = "Untrusted Test TSA") -> TsaIdentity:
    """A TSA under a root of its own, which no keiyaku setting trusts."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("Untrusted Test Root")
    root = _certificate(root_name, root_key.public_key(), root_name, root_key, ca=True)
    return tsa_identity_under(_asn1(root), root_key, common_name)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS TSA that asks for a client certificate."""

    ca_file: Path
    """The test CA: issued the server's and the client's certificates."""
    server_cert: Path
    server_key: Path
    client_cert: Path
    """The client's certificate alone (its key in ``client_key``)."""
    client_key: Path
    client_bundle: Path
    """The client's certificate followed by its key (one file)."""
    stranger_cert: Path
    """A client certificate (with key) from another CA: the server refuses it."""


def tls_files(directory: Path) -> TlsFiles:
    """Make a test CA, a server certificate for 127.0.0.1 and client certificates."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("TSA TLS Test CA")
    ca = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)

    def pair(name: str, usage: x509.ObjectIdentifier, issuer: Any, issuer_key: Any) -> tuple:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(
            _name(name), key.public_key(), issuer, issuer_key, usage=[usage], ip="127.0.0.1"
        )
        return cert, key

    server, server_key = pair("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, ca_name, ca_key)
    client, client_key = pair("keiyaku", ExtendedKeyUsageOID.CLIENT_AUTH, ca_name, ca_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    stranger, stranger_key = pair(
        "stranger", ExtendedKeyUsageOID.CLIENT_AUTH, _name("Other CA"), other_key
    )

    def pem_cert(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def pem_key(key: Any) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    files = TlsFiles(
        ca_file=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client-key.pem",
        client_bundle=directory / "client-bundle.pem",
        stranger_cert=directory / "stranger.pem",
    )
    files.ca_file.write_bytes(pem_cert(ca))
    files.server_cert.write_bytes(pem_cert(server))
    files.server_key.write_bytes(pem_key(server_key))
    files.client_cert.write_bytes(pem_cert(client))
    files.client_key.write_bytes(pem_key(client_key))
    files.client_bundle.write_bytes(pem_cert(client) + pem_key(client_key))
    files.stranger_cert.write_bytes(pem_cert(stranger) + pem_key(stranger_key))
    return files


@dataclass
class TsaServer:
    """A running loopback TSA. ``misbehaviour`` may be changed while it runs."""

    url: str
    misbehaviour: str
    requests: list[dict[str, str]] = field(default_factory=list)
    """Per request: the Authorization header and the client certificate's subject CN."""


def _misbehave(request_der: bytes, identity: Any, misbehaviour: str) -> bytes:
    if misbehaviour in ("wrong_nonce", "wrong_imprint"):
        request = tsp.TimeStampReq.load(request_der)
        nonce = request["nonce"].native
        imprint = request["message_imprint"]
        forged = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": imprint["hash_algorithm"],
                    "hashed_message": bytes(32)
                    if misbehaviour == "wrong_imprint"
                    else imprint["hashed_message"].native,
                },
                "nonce": (nonce or 0) + 1 if misbehaviour == "wrong_nonce" else nonce,
                "cert_req": True,
            }
        )
        return tsa.respond(forged.dump(), authority=identity)
    reply = tsa.respond(request_der, authority=identity)
    if misbehaviour == "bad_signature":
        answer = tsp.TimeStampResp.load(reply)
        signer_info = answer["time_stamp_token"]["content"]["signer_infos"][0]
        signature = bytearray(signer_info["signature"].native)
        signature[-1] ^= 0x01
        signer_info["signature"] = bytes(signature)
        return answer.dump(force=True)
    return reply


@contextmanager
def running_tsa(
    identity: Any,
    *,
    misbehaviour: str = "",
    username: str = "",
    password: str = "",
    tls: TlsFiles | None = None,
    port: int = 0,
) -> Iterator[TsaServer]:
    """A TSA signing with ``identity`` (an ``Authority`` or a :class:`TsaIdentity`) on
    127.0.0.1 (``port``: 0 for any), over HTTPS with a required client certificate when ``tls``
    is given, asking for Basic credentials when ``username`` is given."""
    if misbehaviour not in MISBEHAVIOURS:
        raise ValueError(misbehaviour)
    closing = threading.Event()
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            peer = self.connection.getpeercert() if tls else None
            subject = dict(item[0] for item in peer["subject"]) if peer else {}
            state.requests.append(
                {
                    "authorization": self.headers.get("Authorization", ""),
                    "client": str(subject.get("commonName", "")),
                }
            )
            if username and self.headers.get("Authorization") != expected:
                self._send(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="tsa"'})
                return
            if state.misbehaviour == "http_error":
                self._send(503, b"busy", "text/plain")
                return
            if state.misbehaviour == "hang":
                closing.wait(30)
                return
            reply = _misbehave(body, identity, state.misbehaviour)
            self._send(200, reply, "application/timestamp-reply")

        def _send(
            self, status: int, body: bytes, content_type: str, extra: dict | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.server_cert, tls.server_key)
        context.load_verify_locations(tls.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    state = TsaServer(
        url=f"{scheme}://127.0.0.1:{server.server_address[1]}/tsa", misbehaviour=misbehaviour
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        closing.set()
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port where nothing listens (connections are refused)."""
    return free_port()
