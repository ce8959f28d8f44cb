"""Session fixtures: a throw-away keiyaku authority and its services on loopback.

One ``ThreadingHTTPServer`` on 127.0.0.1 plays keiyaku's public PKI endpoints: ``POST /tsa``
(RFC 3161), ``POST /pki/ocsp`` and ``GET /pki/ocsp/<base64>``, ``GET /pki/crl``. The
authority's certificates point at that server, so outside validators that chase OCSP
(``pdfsig``/NSS) reach it instead of failing on a dead address.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from keiyaku.pki import revocation, tsa
from keiyaku.pki.authority import Authority, ensure_authority
from keiyaku.signing import engine
from keiyaku.signing.engine import ServiceSigner

PASSPHRASE = b"test-master-key"


class _PkiServer(ThreadingHTTPServer):
    daemon_threads = True
    authority: Authority | None = None


class _PkiHandler(BaseHTTPRequestHandler):
    server: _PkiServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        authority = self._authority()
        if self.path == "/tsa":
            self._reply("application/timestamp-reply", tsa.respond(body, authority=authority))
        elif self.path == "/pki/ocsp":
            self._reply(
                "application/ocsp-response", revocation.ocsp_respond(body, authority=authority)
            )
        else:
            self.send_error(404)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        authority = self._authority()
        if self.path.startswith("/pki/ocsp/"):
            der = base64.b64decode(unquote(self.path.removeprefix("/pki/ocsp/")))
            self._reply(
                "application/ocsp-response", revocation.ocsp_respond(der, authority=authority)
            )
        elif self.path == "/pki/crl":
            self._reply("application/pkix-crl", revocation.current_crl(authority))
        else:
            self.send_error(404)

    def _authority(self) -> Authority:
        assert self.server.authority is not None
        return self.server.authority

    def _reply(self, content_type: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def pki_server() -> Iterator[_PkiServer]:
    server = _PkiServer(("127.0.0.1", 0), _PkiHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def pki_base_url(pki_server: _PkiServer) -> str:
    return f"http://127.0.0.1:{pki_server.server_address[1]}"


@pytest.fixture(scope="session")
def authority(
    tmp_path_factory: pytest.TempPathFactory, pki_server: _PkiServer, pki_base_url: str
) -> Authority:
    """A fresh authority whose CRL/OCSP/caIssuers URLs point at the loopback server."""
    created = ensure_authority(
        tmp_path_factory.mktemp("pki"), passphrase=PASSPHRASE, base_url=pki_base_url
    )
    pki_server.authority = created
    return created


@pytest.fixture(scope="session")
def tsa_url(authority: Authority, pki_base_url: str) -> str:
    """keiyaku's RFC 3161 endpoint for ``authority``, on loopback."""
    return f"{pki_base_url}/tsa"


@pytest.fixture(scope="session")
def service_signer(authority: Authority) -> ServiceSigner:
    return ServiceSigner.from_authority(authority)


PARTIES = (
    ("株式会社テスト建設", "山田太郎", "taro@example.jp"),
    ("テスト市", "鈴木花子", "hanako@city.example.lg.jp"),
    ("合同会社サンプル", "髙橋一郎", "ichiro@sample.example.jp"),
)


def agreement_reason(company: str, name: str, email: str, when: str) -> str:
    return f"{company} {name} 様 [{email}] が {when} +09:00 JSTに承認しました"


@dataclass(frozen=True)
class SignedContract:
    """One contract through the whole engine: every intermediate file is kept."""

    prepared: bytes
    signed: tuple[bytes, ...]
    """After each party's agreement, in order."""
    final: bytes
    """B-LTA: validation data and a document timestamp after the last agreement."""
    field_names: tuple[str, ...]
    reasons: tuple[str, ...]


@pytest.fixture(scope="session")
def signed_contract(
    authority: Authority, tsa_url: str, service_signer: ServiceSigner
) -> SignedContract:
    """A two-page contract signed by three parties one after another, then finalised."""
    from tests.pdfs import make_pdf

    field_names = tuple(f"keiyaku-party-{n:02d}" for n in range(1, len(PARTIES) + 1))
    reasons = tuple(
        agreement_reason(*party, f"2026-04-01 10:5{n}:22") for n, party in enumerate(PARTIES)
    )
    timestamper = engine.make_timestamper([tsa_url])
    prepared = engine.prepare(make_pdf(pages=2), field_names=field_names)
    signed, current = [], prepared
    for field_name, reason in zip(field_names, reasons, strict=True):
        current = engine.sign_agreement(
            current,
            field_name=field_name,
            reason=reason,
            signer=service_signer,
            timestamper=timestamper,
            contact_info=reason.split("[")[1].split("]")[0],
        )
        signed.append(current)
    final = engine.finalize(
        current,
        timestamper=timestamper,
        validation_context=revocation.validation_context(authority),
    )
    return SignedContract(
        prepared=prepared,
        signed=tuple(signed),
        final=final,
        field_names=field_names,
        reasons=reasons,
    )
