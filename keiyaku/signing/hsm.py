"""The service's signing key in an HSM, through PKCS#11 (pyHanko's ``pyhanko.sign.pkcs11`` on
python-pkcs11). Knows nothing of Django: a :class:`Pkcs11Config` in, a pyHanko signer out.

The private key never leaves the token: keiyaku asks the token to sign a digest and gets the
signature back. Issue 13 ("keys in an HSM"); procurement specifications ask for it.

Invariants:
- One session per process, opened and logged in on first use, not per signature (a login costs
  a round trip to a network HSM and some HSMs count them).
- A session is used only in the process that opened it: after a ``fork`` the child re-initialises
  the module and opens its own (PKCS#11 v2.40 §6.6: a child must call ``C_Initialize``; sharing a
  parent's session handle is undefined), and never closes the parent's session.
- A session that dropped (closed, logged out, token removed and re-inserted, the HSM restarted:
  ``CKR_SESSION_HANDLE_INVALID``, ``CKR_SESSION_CLOSED``, ``CKR_USER_NOT_LOGGED_IN``,
  ``CKR_OBJECT_HANDLE_INVALID`` …) is reopened once and the signature asked for again; failing
  after that raises :class:`SigningKeyUnavailable` and nothing is signed (the job retries later).
- Concurrent signatures from several threads share the session (python-pkcs11 serialises
  operations on it); a reopen replaces the session for all of them, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import algos, csr, keys, pem
from asn1crypto import x509 as asn1_x509
from pyhanko.sign import signers
from pyhanko.sign.general import SigningError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keiyaku.signing.aio import run_sync

if TYPE_CHECKING:
    from pyhanko.sign.pkcs11 import PKCS11Signer

__all__ = [
    "KeyAttributes",
    "Pkcs11Config",
    "Pkcs11KeySigner",
    "SigningKeyUnavailable",
    "certification_request",
    "load_certificate_chain",
]

logger = logging.getLogger(__name__)

MD_ALGORITHM = "sha256"


class SigningKeyUnavailable(SigningError):
    """The HSM did not sign, even after its session was reopened once; nothing was signed.

    Raised out of a signature job, which the queue retries later (keiyaku.contracts.tasks).
    The message names the token and the PKCS#11 error, never the PIN.
    """


@dataclass(frozen=True)
class Pkcs11Config:
    """Where the service's key lives in a PKCS#11 token (settings ``KEIYAKU_SIGNER_PKCS11_*``)."""

    module: str
    """Path of the vendor's PKCS#11 module (a ``.so``), e.g. ``/usr/lib/softhsm/libsofthsm2.so``."""
    token_label: str
    """The token's label (``CKA_LABEL`` of the token, as ``pkcs11-tool -L`` shows it)."""
    pin: str = field(repr=False)
    """The user PIN (CKU_USER). Never logged, never shown."""
    key_label: str | None = None
    """``CKA_LABEL`` of the private key (and of its certificate on the token)."""
    key_id: bytes | None = None
    """``CKA_ID`` of the private key (and of its certificate on the token); with ``key_label``,
    both must match."""
    cert_chain_pem: tuple[bytes, ...] = ()
    """The signing certificate then its intermediates (DER each). Empty: the certificate with
    the key's label/ID is read from the token, with every other certificate there as chain."""

    def __post_init__(self) -> None:
        if not self.key_label and not self.key_id:
            raise ValueError("a PKCS#11 key needs a label or an ID")

    @property
    def where(self) -> str:
        """The key's address for messages: token and key label/ID, no PIN."""
        key = self.key_label or ""
        if self.key_id:
            key += f" id={self.key_id.hex()}"
        return f"PKCS#11 token {self.token_label!r}, key {key.strip()}"


@dataclass(frozen=True)
class KeyAttributes:
    """What the token says about the private key object (read back, never the key itself)."""

    extractable: bool
    """CKA_EXTRACTABLE: whether the token would export it, even wrapped. Must be False."""
    sensitive: bool
    """CKA_SENSITIVE: whether its secret parts are hidden from attribute reads. Must be True."""
    never_extractable: bool
    """CKA_NEVER_EXTRACTABLE: it has never been extractable."""
    always_sensitive: bool
    """CKA_ALWAYS_SENSITIVE: it has always been sensitive."""
    local: bool
    """CKA_LOCAL: generated inside the token (not imported)."""

    @property
    def stays_in_token(self) -> bool:
        return not self.extractable and self.sensitive


def load_certificate_chain(path: str | Path) -> tuple[bytes, ...]:
    """The certificates of a PEM (or single DER) file, in file order, as DER.

    The first is the signing certificate, the rest its intermediates (a root may be there too).
    Raises ``ValueError`` when the file holds no certificate.
    """
    data = Path(path).read_bytes()
    if not pem.detect(data):
        return (asn1_x509.Certificate.load(data).dump(),)
    ders = tuple(der for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE")
    if not ders:
        raise ValueError(f"{path}: no certificate in this file")
    return ders


# PKCS#11 errors after which the same request can succeed on a fresh session: the session or
# the login is gone (closed, logged out, the token was pulled and put back, the HSM restarted),
# so the object handles of the old session mean nothing any more.
_SESSION_LOST = (
    "SessionHandleInvalid",
    "SessionClosed",
    "UserNotLoggedIn",
    "ObjectHandleInvalid",
    "KeyHandleInvalid",
    "DeviceRemoved",
    "TokenNotPresent",
    "TokenNotRecognised",
    "DeviceError",
)


def _session_lost(exc: BaseException) -> bool:
    return any(type(c).__name__ in _SESSION_LOST for c in _chain(exc))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class _Opened:
    """One process's session and the pyHanko signer on it."""

    def __init__(self, session: Any, signer: PKCS11Signer, pid: int) -> None:
        self.session = session
        self.signer = signer
        self.pid = pid


class Pkcs11KeySigner(signers.Signer):
    """A pyHanko signer whose key is in a PKCS#11 token; see the module's invariants.

    The certificate comes from ``config.cert_chain_pem`` or, if that is empty, from the token
    (then this constructor opens the session). SHA-256 only, as every keiyaku signature.
    """

    def __init__(self, config: Pkcs11Config) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._opened: _Opened | None = None
        if config.cert_chain_pem:
            certs = [asn1_x509.Certificate.load(der) for der in config.cert_chain_pem]
        else:
            certs = self._certificates_from_token()
        cert, chain = certs[0], certs[1:]
        algorithm = cert.public_key.algorithm
        if algorithm == "rsa":
            mechanism = f"{MD_ALGORITHM}_rsa"
        elif algorithm == "ec":
            mechanism = f"{MD_ALGORITHM}_ecdsa"
        else:
            raise ValueError(f"{config.where}: an RSA or EC key is needed, not {algorithm}")
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs([cert, *chain]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": mechanism}),
        )

    # --- sessions --------------------------------------------------------------------------

    def _open(self) -> _Opened:
        """This process's session, opened (and logged in) on first use or after a fork."""
        with self._lock:
            opened = self._opened
            if opened is not None and opened.pid == os.getpid():
                return opened
            if opened is not None:
                # Inherited through fork: its handles belong to the parent. Do not close them
                # (that could log the parent out); start the module afresh in this process.
                self._opened = None
                _reinitialise(self.config.module)
            self._opened = self._open_new()
            return self._opened

    def _open_new(self) -> _Opened:
        from pyhanko.sign.pkcs11 import PKCS11Signer

        session = _login(self.config)
        signer = PKCS11Signer(
            session,
            key_label=self.config.key_label,
            key_id=self.config.key_id,
            signing_cert=self._signing_cert,
            signature_mechanism=self.signature_mechanism,
            # SoftHSM and some HSMs have no ECDSA-with-SHA-2 mechanism: hash here, sign there.
            use_raw_mechanism=self._signing_cert is not None
            and self._signing_cert.public_key.algorithm == "ec",
        )
        # Find the key now, under the lock, in this thread: pyHanko otherwise loads it on the
        # first signature behind an asyncio.Event, and a second thread (another event loop)
        # waiting on that event is never woken (a queue consumer's threads hung).
        run_sync(signer.ensure_objects_loaded())
        return _Opened(session, signer, os.getpid())

    def _drop(self, failed: _Opened) -> None:
        """Forget ``failed`` if it is still the current session (another thread may already
        have replaced it); closing is attempted but a dead session may not close."""
        with self._lock:
            if self._opened is not failed:
                return
            self._opened = None
        try:
            failed.session.close()
        except Exception:  # noqa: BLE001 - it is already gone; that is why we drop it
            logger.debug("closing a dropped PKCS#11 session failed", exc_info=True)

    def close(self) -> None:
        """Log out and close this process's session (if it has one)."""
        with self._lock:
            opened, self._opened = self._opened, None
        if opened is not None and opened.pid == os.getpid():
            opened.session.close()

    @property
    def session(self) -> Any:
        """This process's python-pkcs11 ``Session`` (opened if need be): for reading attributes."""
        return self._open().session

    # --- signing ---------------------------------------------------------------------------

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign ``data`` (the CMS signed attributes, bytes) with the token's key; SHA-256 only:
        PKCS#1 v1.5 or DER ECDSA signature bytes.

        Raises :class:`SigningKeyUnavailable` when the token fails twice (the second time on a
        fresh session) and ``SigningError`` for another digest algorithm.
        """
        from pkcs11 import PKCS11Error

        if digest_algorithm != MD_ALGORITHM:
            raise SigningError(f"this signer is fixed to {MD_ALGORITHM}")
        if dry_run:
            return bytes(512)
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            opened: _Opened | None = None
            try:
                opened = await loop.run_in_executor(None, self._open)
                return await opened.signer.async_sign_raw(data, MD_ALGORITHM)
            except PKCS11Error as exc:
                if attempt == 0 and _session_lost(exc):
                    logger.warning(
                        "%s: session lost (%s); reopening it once", self.config.where, _name(exc)
                    )
                    if opened is not None:
                        self._drop(opened)
                    continue
                raise SigningKeyUnavailable(
                    f"{self.config.where}: signing failed"
                    f"{' after reopening the session' if attempt else ''}: {_name(exc)}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def sign_now(self, data: bytes) -> bytes:
        """:meth:`async_sign_raw` from synchronous code (a health probe, a CSR)."""
        return run_sync(self.async_sign_raw(data, MD_ALGORITHM))

    # --- what the token says ---------------------------------------------------------------

    def key_attributes(self) -> KeyAttributes:
        """The private key object's protection attributes, read back from the token."""
        from pkcs11 import Attribute

        key = self._private_key_object()
        return KeyAttributes(
            extractable=bool(key[Attribute.EXTRACTABLE]),
            sensitive=bool(key[Attribute.SENSITIVE]),
            never_extractable=bool(key[Attribute.NEVER_EXTRACTABLE]),
            always_sensitive=bool(key[Attribute.ALWAYS_SENSITIVE]),
            local=bool(key[Attribute.LOCAL]),
        )

    def _private_key_object(self) -> Any:
        from pkcs11 import ObjectClass

        return _one_object(self.session, self.config, ObjectClass.PRIVATE_KEY)

    def _certificates_from_token(self) -> list[asn1_x509.Certificate]:
        from pkcs11 import Attribute, ObjectClass

        # Certificates are public objects: no login, so closing this session logs no other
        # session of the process out (a token's login is shared by all of them).
        session = _login(self.config, user=False)
        try:
            query: dict[Any, Any] = {Attribute.CLASS: ObjectClass.CERTIFICATE}
            certs = [
                (obj[Attribute.LABEL], bytes(obj[Attribute.ID] or b""), obj[Attribute.VALUE])
                for obj in session.get_objects(query)
            ]
        finally:
            session.close()
        mine = [
            der
            for label, key_id, der in certs
            if (not self.config.key_label or label == self.config.key_label)
            and (not self.config.key_id or key_id == self.config.key_id)
        ]
        if len(mine) != 1:
            raise SigningKeyUnavailable(
                f"{self.config.where}: {len(mine)} certificates with the key's label/ID on the "
                "token (one is needed; or give the certificate as a PEM file)"
            )
        others = [der for _, _, der in certs if der != mine[0]]
        return [asn1_x509.Certificate.load(der) for der in [mine[0], *others]]


def certification_request(
    config: Pkcs11Config, *, subject: asn1_x509.Name | dict[str, str]
) -> bytes:
    """A PKCS#10 certification request (DER) for the token's key, signed inside the token.

    ``subject`` is an asn1crypto ``Name`` or its dict form (``{"country_name": "JP",
    "organization_name": …, "common_name": …}``). The public key is read from the token's
    public key object with the key's label/ID (an HSM keeps it beside the private key). What a
    CA needs to issue the signing certificate (docs/trust.md); the private key stays where it
    is. Raises :class:`SigningKeyUnavailable` when the token has no single such key pair.
    """
    from pkcs11 import KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature
    from pkcs11.util.rsa import encode_rsa_public_key

    session = _login(config)
    try:
        public = _one_object(session, config, ObjectClass.PUBLIC_KEY)
        private = _one_object(session, config, ObjectClass.PRIVATE_KEY)
        if public.key_type == KeyType.RSA:
            info = keys.PublicKeyInfo(
                {
                    "algorithm": {"algorithm": "rsa"},
                    "public_key": keys.RSAPublicKey.load(encode_rsa_public_key(public)),
                }
            )
            algorithm = "sha256_rsa"
        else:
            info = keys.PublicKeyInfo.load(encode_ec_public_key(public))
            algorithm = "sha256_ecdsa"
        name = subject if isinstance(subject, asn1_x509.Name) else asn1_x509.Name.build(subject)
        request_info = csr.CertificationRequestInfo(
            {"version": "v1", "subject": name, "subject_pk_info": info, "attributes": []}
        )
        if algorithm == "sha256_rsa":
            signature = private.sign(request_info.dump(), mechanism=Mechanism.SHA256_RSA_PKCS)
        else:
            digest = hashlib.sha256(request_info.dump()).digest()
            signature = encode_ecdsa_signature(private.sign(digest, mechanism=Mechanism.ECDSA))
    finally:
        session.close()
    return csr.CertificationRequest(
        {
            "certification_request_info": request_info,
            "signature_algorithm": {"algorithm": algorithm},
            "signature": signature,
        }
    ).dump()


def _one_object(session: Any, config: Pkcs11Config, object_class: Any) -> Any:
    from pkcs11 import Attribute

    query: dict[Any, Any] = {Attribute.CLASS: object_class}
    if config.key_label:
        query[Attribute.LABEL] = config.key_label
    if config.key_id:
        query[Attribute.ID] = config.key_id
    found = list(session.get_objects(query))
    if len(found) != 1:
        raise SigningKeyUnavailable(
            f"{config.where}: {len(found)} {object_class.name.lower().replace('_', ' ')} "
            "objects match (one is needed)"
        )
    return found[0]


def _login(config: Pkcs11Config, *, user: bool = True) -> Any:
    """A session on the configured token, logged in as the user (``user=False``: not logged in).

    A token's login is shared by every session of the process: when another session of this
    process is still logged in, a new one is opened without logging in again.
    """
    from pkcs11 import UserAlreadyLoggedIn
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import open_pkcs11_session

    criteria = TokenCriteria(label=config.token_label)
    if not user:
        return open_pkcs11_session(config.module, token_criteria=criteria, user_pin=None)
    try:
        return open_pkcs11_session(config.module, token_criteria=criteria, user_pin=config.pin)
    except UserAlreadyLoggedIn:
        return open_pkcs11_session(config.module, token_criteria=criteria, user_pin=None)


def _reinitialise(module: str) -> None:
    """``C_Finalize`` + ``C_Initialize`` of the module in this (forked) process.

    A module that noticed the fork itself (SoftHSM with ``library.reset_on_fork``, most HSM
    clients) answers the ``C_Finalize`` with CKR_CRYPTOKI_NOT_INITIALIZED: that is fine.
    """
    import pkcs11

    lib = pkcs11.lib(module)
    try:
        lib.finalize()
    except pkcs11.PKCS11Error:
        logger.debug("C_Finalize after fork", exc_info=True)
    lib.initialize()


def _name(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}{': ' + text if text else ''}"
