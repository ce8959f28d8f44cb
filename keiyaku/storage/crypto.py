"""Sealing with the master key (R43): one key derivation, one format, AES-256-GCM everywhere.

`seal(data, purpose=…, aad=…)` encrypts with a key derived from KEIYAKU_MASTER_KEY by HKDF-SHA256
with the purpose as its info, so that each use (a contract's data key, a TOTP seed, an OpenID
client secret) has its own key and a value sealed for one purpose never opens for another. The
associated data binds a value to where it belongs (a blob's id, a key ring's id).

Files are encrypted with their contract's own data key (envelope encryption): `seal_with` and
`open_with` take that key; the data key itself is sealed with the master key (`wrap_key`).

Rotation (`keiyaku rotate-master-key`, storage/rotation.py): this module is the one place that
knows the master keys. Sealing uses KEIYAKU_MASTER_KEY only; opening tries it, then each key of
KEIYAKU_MASTER_KEY_PREVIOUS (`master_keys()`). `reseal`, `reseal_text` and `rewrap_key` give a
value sealed again under the current key, or None when it already is (current key, current
format), which is what makes a rotation idempotent.

Formats, kept readable for ever:
- sealed bytes: b"\\x02" + 12-byte nonce + ciphertext and tag;
- sealed text (database columns): "v2:" + base64 of the sealed bytes;
- before this module (version 1): data keys wrapped as nonce + ciphertext (60 bytes) under the
  master key's own bytes, and texts as bare base64 under HKDF("keiyaku signin sealing v1")
  with the purpose as associated data. They still open; new values are never written so, and a
  rotation re-seals them in the current format.
- a file: 12-byte nonce + ciphertext and tag under its contract's data key (unchanged; a
  rotation never touches files, only the wrapping of their data key).

Files are sealed and opened piece by piece (`SealingReader`, `open_stream`; issue 12): the
format is one AES-256-GCM message over the whole file, and GCM is a stream mode, so the
ciphertext is produced and consumed in chunks of CHUNK_BYTES. Sealing a file holds no copy of
it (the sealed form is made as storage reads it); opening one holds the plaintext once, written
in place into the bytes returned, and releases it only after the tag has been checked.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE_BYTES = 12
TAG_BYTES = 16
CHUNK_BYTES = 1024 * 1024
"""How much of a file is encrypted or decrypted at a time (bytes)."""
VERSION = b"\x02"
TEXT_PREFIX = "v2:"
DATA_KEY_PURPOSE = "data-key"
# The purposes of the sealed text columns (login/services.py seals them; rotation re-seals them).
TOTP_PURPOSE = "totp"
OIDC_CLIENT_SECRET_PURPOSE = "oidc-client-secret"  # noqa: S105 - a label, not a secret
# An electronic surety's 認証キー (R32; contracts/services/sureties.py).
SURETY_KEY_PURPOSE = "surety-key"
# A webhook endpoint's signing secrets (R40; keiyaku/webhooks/services.py).
WEBHOOK_SECRET_PURPOSE = "webhook-secret"  # noqa: S105 - a label, not a secret
# A version-1 wrapped data key: nonce, 32-byte key, 16-byte tag; a version-2 one has one more.
_V1_WRAPPED_BYTES = NONCE_BYTES + 32 + 16

_T = TypeVar("_T")


class SealBroken(ValueError):
    """A sealed value does not open: another master key or purpose, or it was altered."""


def master_keys() -> list[str]:
    """The master keys that open sealed values: KEIYAKU_MASTER_KEY first (the only one that
    seals), then KEIYAKU_MASTER_KEY_PREVIOUS in the order given (docs/operations.md,
    "Master key rotation")."""
    current = settings.MASTER_KEY
    previous = [k for k in getattr(settings, "MASTER_KEY_PREVIOUS", ()) if k and k != current]
    return [current, *previous]


def master_key_passphrases() -> list[bytes]:
    """`master_keys()` as the passphrases of the PKI's encrypted private keys (pki/service.py):
    the first encrypts, every one may decrypt."""
    return [key.encode() for key in master_keys()]


@functools.lru_cache(maxsize=64)
def _derive_from(master: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"keiyaku:{purpose}".encode())
    return hkdf.derive(master.encode())


def _derive(purpose: str, master: str | None = None) -> bytes:
    if not purpose:
        raise ValueError("a purpose is required")
    return _derive_from(settings.MASTER_KEY if master is None else master, purpose)


def derived_keys(purpose: str) -> list[bytes]:
    """The 32-byte keys for ``purpose`` derived (HKDF-SHA256) from each of `master_keys()`:
    the current key's first. For keyed hashes (an API token's digest): a value hashed under
    the current key is found, and one hashed before a rotation is still found under the
    previous key's."""
    return [_derive(purpose, master) for master in master_keys()]


def _first_that_opens(attempts: Callable[[str], _T]) -> tuple[_T, int]:
    """``attempts(master)`` under each master key in turn: its result and the key's position
    (0 = the current key). SealBroken when none opens."""
    for position, master in enumerate(master_keys()):
        try:
            return attempts(master), position
        except SealBroken:
            continue
    raise SealBroken(
        "sealed value does not open with KEIYAKU_MASTER_KEY nor any KEIYAKU_MASTER_KEY_PREVIOUS"
    )


def seal_with(key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    """AES-256-GCM under `key` with a fresh nonce: nonce + ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_with(key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    """What `seal_with` sealed; SealBroken for another key, other `aad`, or altered bytes."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise SealBroken("sealed value does not open") from exc


def sealed_size(plaintext_bytes: int) -> int:
    """The length in bytes of what `seal_with` or `SealingReader` makes of ``plaintext_bytes``."""
    return NONCE_BYTES + plaintext_bytes + TAG_BYTES


class SealingReader(io.RawIOBase):
    """`seal_with`'s output, made as it is read: a binary file object of ``len(self)`` bytes
    (nonce, ciphertext, tag) to hand to storage, which reads it in chunks (issue 12: a file is
    never held a second time, sealed, in memory).

    ``source``: the plaintext, as bytes or as the path of a file that does not change while it
    is read (an upload Django wrote to disk). Seekable, so that a storage client may read it
    twice (a checksum, then the upload): reading again from the start encrypts the same
    plaintext again under the same nonce, which gives the same bytes; a seek backwards starts
    again from the start, one forwards reads on. Raises RuntimeError when a path's file changed
    size while it was read.
    """

    def __init__(self, key: bytes, source: bytes | Path, *, aad: bytes) -> None:
        super().__init__()
        self._key, self._aad, self._source = key, aad, source
        self._plain_bytes = len(source) if isinstance(source, bytes) else source.stat().st_size
        self.size = sealed_size(self._plain_bytes)
        self._nonce = os.urandom(NONCE_BYTES)
        self._file: IO[bytes] | None = None
        self._restart()

    def __len__(self) -> int:
        return self.size

    def _restart(self) -> None:
        encryptor = Cipher(algorithms.AES(self._key), modes.GCM(self._nonce)).encryptor()
        encryptor.authenticate_additional_data(self._aad)
        self._encryptor: Any = encryptor
        self._plain_read = 0  # plaintext consumed so far
        self._pending = memoryview(self._nonce)  # produced, not yet returned
        self._position = 0
        if self._file is not None:
            self._file.seek(0)
        elif isinstance(self._source, Path):
            self._file = self._source.open("rb")

    def _produce(self) -> bytes:
        """The next piece of sealed bytes (b"" at the end)."""
        if self._plain_read < self._plain_bytes:
            want = min(CHUNK_BYTES, self._plain_bytes - self._plain_read)
            if isinstance(self._source, bytes):
                plain: Any = memoryview(self._source)[self._plain_read : self._plain_read + want]
            else:
                assert self._file is not None
                plain = self._file.read(want)
                if len(plain) != want:
                    raise RuntimeError("the file being sealed changed while it was read")
            self._plain_read += want
            return self._encryptor.update(plain)  # type: ignore[no-any-return]
        if self._encryptor is not None:
            if self._file is not None and self._file.read(1):
                raise RuntimeError("the file being sealed changed while it was read")
            tail = self._encryptor.finalize() + self._encryptor.tag
            self._encryptor = None
            return tail  # type: ignore[no-any-return]
        return b""

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.size - self._position
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            if not self._pending:
                produced = self._produce()
                if not produced:
                    break
                self._pending = memoryview(produced)
            piece = self._pending[:wanted]
            self._pending = self._pending[len(piece) :]
            parts.append(piece.tobytes())
            wanted -= len(piece)
        data = b"".join(parts)
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        target = max(0, min(self.size, target + offset))
        if target < self._position:
            self._restart()
        while self._position < target:
            if not self.read(min(CHUNK_BYTES, target - self._position)):
                break
        return self._position

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


def open_stream(
    key: bytes, sealed: IO[bytes], *, plaintext_bytes: int, aad: bytes
) -> tuple[bytes, str]:
    """What `seal_with` (or `SealingReader`) sealed, read from the binary file ``sealed`` in
    chunks, and its SHA-256 (hex). ``plaintext_bytes``: the expected plaintext length.

    The plaintext is decrypted in place into the bytes object returned: the file is held once,
    never sealed and plain together (issue 12). Nothing is returned before the tag has been
    checked. Raises SealBroken for another key, other ``aad``, altered, truncated or longer
    data.
    """
    nonce = _read_exactly(sealed, NONCE_BYTES)
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).decryptor()
    decryptor.authenticate_additional_data(aad)
    digest = hashlib.sha256()
    # A bytes object written in place: BytesIO's buffer, sized once, handed out by getvalue()
    # without a copy (CPython). update_into wants room for a block more than it is given.
    out = io.BytesIO()
    out.seek(plaintext_bytes + TAG_BYTES - 1)
    out.write(b"\0")
    with out.getbuffer() as view:
        done = 0
        while done < plaintext_bytes:
            chunk = _read_exactly(sealed, min(CHUNK_BYTES, plaintext_bytes - done))
            written = decryptor.update_into(chunk, view[done:])
            digest.update(view[done : done + written])
            done += written
        tag = _read_exactly(sealed, TAG_BYTES)
        if sealed.read(1):
            raise SealBroken("sealed value is longer than recorded")
        try:
            decryptor.finalize_with_tag(tag)
        except InvalidTag as exc:
            raise SealBroken("sealed value does not open") from exc
    out.truncate(plaintext_bytes)
    return out.getvalue(), digest.hexdigest()


def open_stream_into(
    key: bytes, sealed: IO[bytes], out: IO[bytes], *, plaintext_bytes: int, aad: bytes
) -> str:
    """As `open_stream`, but the plaintext is written to the binary file ``out`` chunk by
    chunk (CHUNK_BYTES at a time) instead of being returned: memory stays one chunk whatever
    the file's size. Returns the plaintext's SHA-256 (hex).

    ``out`` receives bytes that are not authenticated until this returns: the caller must not
    hand them on before then, and must discard them when it raises. Raises SealBroken as
    `open_stream` does.
    """
    nonce = _read_exactly(sealed, NONCE_BYTES)
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).decryptor()
    decryptor.authenticate_additional_data(aad)
    digest = hashlib.sha256()
    done = 0
    while done < plaintext_bytes:
        chunk = decryptor.update(_read_exactly(sealed, min(CHUNK_BYTES, plaintext_bytes - done)))
        digest.update(chunk)
        out.write(chunk)
        done += len(chunk)
    tag = _read_exactly(sealed, TAG_BYTES)
    if sealed.read(1):
        raise SealBroken("sealed value is longer than recorded")
    try:
        out.write(decryptor.finalize_with_tag(tag))
    except InvalidTag as exc:
        raise SealBroken("sealed value does not open") from exc
    return digest.hexdigest()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    parts, wanted = [], size
    while wanted:
        piece = stream.read(wanted)
        if not piece:
            raise SealBroken("sealed value is shorter than recorded")
        parts.append(piece)
        wanted -= len(piece)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def seal(data: bytes, *, purpose: str, aad: bytes = b"") -> bytes:
    """Seal with the current master key's key for `purpose`; `aad` must be given again to open."""
    return VERSION + seal_with(_derive(purpose), data, aad=aad)


def _open_sealed(sealed: bytes, *, purpose: str, aad: bytes) -> tuple[bytes, bool]:
    """The value and whether it is sealed as `seal` seals now (current key and format)."""
    if not sealed.startswith(VERSION):
        raise SealBroken("not a sealed value")
    _derive(purpose)  # refuses an empty purpose before any key is tried
    body = sealed[len(VERSION) :]
    value, position = _first_that_opens(
        lambda master: open_with(_derive(purpose, master), body, aad=aad)
    )
    return value, position == 0


def open_sealed(sealed: bytes, *, purpose: str, aad: bytes = b"") -> bytes:
    """What `seal` sealed for the same purpose and `aad`, under the current master key or a
    previous one; SealBroken otherwise."""
    return _open_sealed(sealed, purpose=purpose, aad=aad)[0]


def reseal(sealed: bytes, *, purpose: str, aad: bytes = b"") -> bytes | None:
    """`sealed` sealed again under the current master key, or None when it already is.
    SealBroken when no configured master key opens it."""
    value, current = _open_sealed(sealed, purpose=purpose, aad=aad)
    return None if current else seal(value, purpose=purpose, aad=aad)


def seal_text(text: str, *, purpose: str) -> str:
    """A secret kept in a database column (TOTP seed, client secret), as text."""
    return TEXT_PREFIX + base64.b64encode(seal(text.encode(), purpose=purpose)).decode()


def _open_text(token: str, *, purpose: str) -> tuple[str, bool]:
    try:
        if token.startswith(TEXT_PREFIX):
            raw = base64.b64decode(token[len(TEXT_PREFIX) :], validate=True)
            value, current = _open_sealed(raw, purpose=purpose, aad=b"")
            return value.decode(), current
        raw = base64.b64decode(token, validate=True)
        value, _position = _first_that_opens(
            lambda master: _open_text_v1(raw, purpose=purpose, master=master)
        )
        return value.decode(), False
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise SealBroken("not a sealed value") from exc


def open_text(token: str, *, purpose: str) -> str:
    """The secret of `seal_text`, or of version 1 (signin's sealing), under the current master
    key or a previous one; SealBroken otherwise."""
    return _open_text(token, purpose=purpose)[0]


def reseal_text(token: str, *, purpose: str) -> str | None:
    """`token` sealed again by `seal_text` under the current master key, or None when it already
    is (a version-1 token is always re-sealed). SealBroken when no configured key opens it."""
    text, current = _open_text(token, purpose=purpose)
    return None if current else seal_text(text, purpose=purpose)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_key(data_key: bytes, *, key_id: str) -> bytes:
    """A contract's data key sealed with the master key, bound to its key ring's id."""
    return seal(data_key, purpose=DATA_KEY_PURPOSE, aad=key_id.encode())


def _unwrap_key(wrapped: bytes, *, key_id: str) -> tuple[bytes, bool]:
    if len(wrapped) == _V1_WRAPPED_BYTES:
        aad = f"keiyaku-data-key:{key_id}".encode()
        key, _position = _first_that_opens(
            lambda master: open_with(_master_v1(master), wrapped, aad=aad)
        )
        return key, False
    return _open_sealed(wrapped, purpose=DATA_KEY_PURPOSE, aad=key_id.encode())


def unwrap_key(wrapped: bytes, *, key_id: str) -> bytes:
    """The data key of `wrap_key`, or of a key ring written before it (version 1), under the
    current master key or a previous one; SealBroken otherwise."""
    return _unwrap_key(wrapped, key_id=key_id)[0]


def rewrap_key(wrapped: bytes, *, key_id: str) -> bytes | None:
    """The same data key wrapped by `wrap_key` under the current master key, or None when it
    already is. The data key itself does not change, so the files it sealed stay as they are.
    SealBroken when no configured master key opens it."""
    data_key, current = _unwrap_key(wrapped, key_id=key_id)
    return None if current else wrap_key(data_key, key_id=key_id)


# --- version 1, read only ------------------------------------------------------------------


def _master_v1(key: str) -> bytes:
    """A master key's bytes as version 1 used them: 32 base64 bytes, else its SHA-256."""
    try:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        if len(raw) == 32:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(key.encode()).digest()


def _open_text_v1(raw: bytes, *, purpose: str, master: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"keiyaku signin sealing v1")
    return open_with(hkdf.derive(master.encode()), raw, aad=purpose.encode())
