"""A time-stamp authority on loopback whose certificate lives two years (archival renewal, R21).

keiyaku's own RFC 3161 responder (`keiyaku.pki.tsa.respond`) answers with a TSA certificate
issued by the test authority's root (the one keiyaku's settings load), so keiyaku's validation
data (the root's CRL) covers it. `issue(not_before)` gives the TSA a new certificate valid from
then for `years`: a test that moves the clock (time-machine) issues one per simulated period, as
an accredited TSA renews its certificate. The key may be RSA of any size, to test a policy that
retires a key algorithm.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from keiyaku.pki import authority as pki
from keiyaku.pki import tsa
from keiyaku.pki.authority import Authority
from tests.loopback_http import timestamp_reply_server


class ShortLivedTsa:
    """keiyaku's TSA responder on loopback with a certificate of ``years`` issued by the root of
    ``root_of``; call :meth:`issue` before the first request."""

    def __init__(self, root_of: Authority, *, base_url: str, years: int = 2) -> None:
        self.root_of = root_of
        self.base_url = base_url
        self.years = years
        self.authority: Authority | None = None
        self._keys: dict[int, rsa.RSAPrivateKey] = {}
        self.server, self.url = timestamp_reply_server(self._answer)

    def _answer(self, body: bytes) -> bytes:
        assert self.authority is not None, "issue() a certificate first"
        return tsa.respond(body, authority=self.authority)

    def issue(self, not_before: dt.datetime, *, key_size: int = 2048) -> x509.Certificate:
        """A new TSA certificate valid from ``not_before`` for ``years`` (RSA key of
        ``key_size`` bits, made once per size); the TSA answers with it from now on."""
        key = self._keys.get(key_size)
        if key is None:
            key = self._keys[key_size] = rsa.generate_private_key(
                public_exponent=65537, key_size=key_size
            )
        root_key = self.root_of.private_key("root")
        assert isinstance(root_key, rsa.RSAPrivateKey)
        root = x509.load_der_x509_certificate(self.root_of.root_cert.dump())
        builder = pki._leaf(
            pki._builder(
                pki._name(f"Short-lived TSA {not_before:%Y-%m-%d}"),
                root.subject,
                key.public_key(),
                not_before - pki.BACKDATE,
                self.years,
            ),
            key.public_key(),
            root_key.public_key(),
            self.base_url,
        )
        cert = (
            builder.add_extension(pki._key_usage(digital_signature=True), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .sign(root_key, hashes.SHA256())
        )
        self.authority = dataclasses.replace(
            self.root_of,
            tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            tsa_key=asn1_keys.PrivateKeyInfo.load(pki._pkcs8_der(key)),
        )
        return cert

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
