"""Sealing with the master key: bound to a purpose, tamper-evident, and old values still open."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import pytest

from keiyaku.storage import crypto
from keiyaku.storage.crypto import SealBroken

# Written by keiyaku before the one sealing helper (signin/sealing.py and the first key wrap),
# under these master keys: they must open for ever.
LEGACY_TEXT_KEY = "legacy-vector master key, not a real one"
LEGACY_TOTP = "+uTHHXkj8s4xohb1Qnuupmu6sSXTnG2/3UgiCZtcQy/5QonjIiLyXafE4o8="
LEGACY_OIDC = "G3WckHh8UjUexwnFhYV7FIO0MsLSG/8zzkPHDO/warxZbgtyR+R5o3cfw7AbiLwRlZMtihsw5d2KZII="
RING_ID = "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
BLOB_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f1a2b3c4d"
LEGACY_WRAPPED = bytes.fromhex(
    "1321fb9c103c9c518decf218397d755b56cd656e0044ee3c283787264efae6cf"
    "dbe90fda850b16a4c5f9ab93b7c38c8cc397acf72f7cbb7d9050fa5c"
)
LEGACY_FILE = bytes.fromhex(
    "ccd8d37ae7994c94d4e76f0541ebb0ecc6a96f752800c157b4dee3d4b9bc8b8acf94ed97858abec25b60a918c9"
)
# The embedded set-up's master key is 32 random bytes in URL-safe base64: version 1 used them raw.
LEGACY_B64_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
LEGACY_WRAPPED_B64 = bytes.fromhex(
    "df7458dc94c1edf2523e9b3d454a2d57e75decff99c928b9b0deb4645d7ce8d9"
    "6caf7d3f2dce0c2c8e27d25f84d09c3a99eb78d4f4da34f6f520b6d9"
)
LEGACY_TOTP_B64 = "xkfWx2tU8iH8wXAV97oMdt6aZ5LdWht1hIkY3/86PfKQceIdIa3wVwmryBo="


def test_round_trip_with_a_fresh_nonce_each_time():
    sealed = crypto.seal(b"secret", purpose="totp", aad=b"staff:1")
    assert b"secret" not in sealed and sealed.startswith(crypto.VERSION)
    assert crypto.open_sealed(sealed, purpose="totp", aad=b"staff:1") == b"secret"
    assert crypto.seal(b"secret", purpose="totp") != crypto.seal(b"secret", purpose="totp")


def test_another_purpose_or_aad_does_not_open():
    sealed = crypto.seal(b"secret", purpose="totp", aad=b"staff:1")
    with pytest.raises(SealBroken):
        crypto.open_sealed(sealed, purpose="oidc-client-secret", aad=b"staff:1")
    with pytest.raises(SealBroken):
        crypto.open_sealed(sealed, purpose="totp", aad=b"staff:2")


def test_an_altered_value_does_not_open():
    sealed = bytearray(crypto.seal(b"secret", purpose="totp"))
    sealed[-1] ^= 1
    with pytest.raises(SealBroken):
        crypto.open_sealed(bytes(sealed), purpose="totp")
    token = crypto.seal_text("secret", purpose="totp")
    raw = bytearray(base64.b64decode(token.removeprefix("v2:")))
    raw[5] ^= 1
    with pytest.raises(SealBroken):
        crypto.open_text("v2:" + base64.b64encode(bytes(raw)).decode(), purpose="totp")
    with pytest.raises(SealBroken):
        crypto.open_text("v2:not base64!", purpose="totp")


def test_another_master_key_does_not_open(settings):
    token = crypto.seal_text("secret", purpose="totp")
    settings.MASTER_KEY = "another master key"
    with pytest.raises(SealBroken):
        crypto.open_text(token, purpose="totp")


def test_text_round_trip_is_marked_with_its_version():
    token = crypto.seal_text("JBSWY3DPEHPK3PXP", purpose="totp")
    assert token.startswith("v2:") and "JBSWY3DPEHPK3PXP" not in token
    assert crypto.open_text(token, purpose="totp") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(SealBroken):
        crypto.open_text(token, purpose="oidc-client-secret")


def test_secrets_sealed_before_still_open(settings):
    settings.MASTER_KEY = LEGACY_TEXT_KEY
    assert crypto.open_text(LEGACY_TOTP, purpose="totp") == "JBSWY3DPEHPK3PXP"
    assert (
        crypto.open_text(LEGACY_OIDC, purpose="oidc-client-secret")
        == "client-secret-from-the-provider"
    )
    with pytest.raises(SealBroken):  # still bound to their purpose
        crypto.open_text(LEGACY_TOTP, purpose="oidc-client-secret")
    settings.MASTER_KEY = LEGACY_B64_KEY
    assert crypto.open_text(LEGACY_TOTP_B64, purpose="totp") == "JBSWY3DPEHPK3PXP"


def test_data_keys_and_files_written_before_still_open(settings):
    for master, wrapped in (
        (LEGACY_TEXT_KEY, LEGACY_WRAPPED),
        (LEGACY_B64_KEY, LEGACY_WRAPPED_B64),
    ):
        settings.MASTER_KEY = master
        data_key = crypto.unwrap_key(wrapped, key_id=RING_ID)
        assert crypto.open_with(data_key, LEGACY_FILE, aad=BLOB_ID.encode()) == b"%PDF-1.7 old blob"
        with pytest.raises(SealBroken):  # bound to its key ring
            crypto.unwrap_key(wrapped, key_id=BLOB_ID)


def test_a_new_wrapped_key_uses_the_one_derivation():
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_key(data_key, key_id=RING_ID)
    assert len(wrapped) == 1 + 12 + 32 + 16
    assert crypto.open_sealed(wrapped, purpose="data-key", aad=RING_ID.encode()) == data_key
    assert crypto.unwrap_key(wrapped, key_id=RING_ID) == data_key
    with pytest.raises(SealBroken):
        crypto.unwrap_key(wrapped, key_id=BLOB_ID)


# --- rotation: the current key seals, previous keys still open ---------------------------------

OLD_KEY = "the master key before the rotation, not a real one"
NEW_KEY = "the master key after the rotation, not a real one"


def test_a_previous_key_opens_and_only_the_current_one_seals(settings):
    settings.MASTER_KEY, settings.MASTER_KEY_PREVIOUS = OLD_KEY, []
    token = crypto.seal_text("JBSWY3DPEHPK3PXP", purpose="totp")
    wrapped = crypto.wrap_key(b"k" * 32, key_id=RING_ID)
    sealed = crypto.seal(b"check", purpose="backup-check")
    settings.MASTER_KEY, settings.MASTER_KEY_PREVIOUS = NEW_KEY, []
    with pytest.raises(SealBroken, match="KEIYAKU_MASTER_KEY_PREVIOUS"):
        crypto.open_text(token, purpose="totp")
    settings.MASTER_KEY_PREVIOUS = ["an unrelated key", OLD_KEY]
    assert crypto.open_text(token, purpose="totp") == "JBSWY3DPEHPK3PXP"
    assert crypto.unwrap_key(wrapped, key_id=RING_ID) == b"k" * 32
    assert crypto.open_sealed(sealed, purpose="backup-check") == b"check"
    with pytest.raises(SealBroken):  # still bound to its purpose and associated data
        crypto.unwrap_key(wrapped, key_id=BLOB_ID)
    # What is sealed now opens with the new key alone.
    again = crypto.reseal_text(token, purpose="totp")
    rewrapped = crypto.rewrap_key(wrapped, key_id=RING_ID)
    assert again is not None and rewrapped is not None
    settings.MASTER_KEY_PREVIOUS = []
    assert crypto.open_text(again, purpose="totp") == "JBSWY3DPEHPK3PXP"
    assert crypto.unwrap_key(rewrapped, key_id=RING_ID) == b"k" * 32
    # ... and needs no re-sealing.
    assert crypto.reseal_text(again, purpose="totp") is None
    assert crypto.rewrap_key(rewrapped, key_id=RING_ID) is None
    assert crypto.reseal(crypto.seal(b"x", purpose="p"), purpose="p") is None


def test_version_1_values_under_a_previous_key_are_resealed_in_the_current_format(settings):
    settings.MASTER_KEY, settings.MASTER_KEY_PREVIOUS = NEW_KEY, [LEGACY_TEXT_KEY]
    token = crypto.reseal_text(LEGACY_TOTP, purpose="totp")
    wrapped = crypto.rewrap_key(LEGACY_WRAPPED, key_id=RING_ID)
    assert token is not None and token.startswith("v2:")
    assert wrapped is not None and wrapped.startswith(crypto.VERSION)
    settings.MASTER_KEY_PREVIOUS = []
    assert crypto.open_text(token, purpose="totp") == "JBSWY3DPEHPK3PXP"
    data_key = crypto.unwrap_key(wrapped, key_id=RING_ID)
    # The data key is the same one: the file it sealed opens unchanged.
    assert crypto.open_with(data_key, LEGACY_FILE, aad=BLOB_ID.encode()) == b"%PDF-1.7 old blob"
    # A version-1 value under the current key is re-sealed too (into the current format).
    settings.MASTER_KEY = LEGACY_TEXT_KEY
    assert crypto.reseal_text(LEGACY_OIDC, purpose="oidc-client-secret") is not None


# --- files in chunks (issue 12) -----------------------------------------------------------

FILE_KEY = bytes(range(32))
FILE_AAD = b"9a8b7c6d-5e4f-4a3b-9c2d-1e0f1a2b3c4d"


def _opened(sealed: bytes, size: int) -> tuple[bytes, str]:
    return crypto.open_stream(FILE_KEY, io.BytesIO(sealed), plaintext_bytes=size, aad=FILE_AAD)


@pytest.mark.parametrize("size", [0, 1, crypto.CHUNK_BYTES, 2 * crypto.CHUNK_BYTES + 17])
def test_chunked_sealing_is_the_file_format(size, tmp_path):
    data = os.urandom(size)
    path = tmp_path / "upload.pdf"
    path.write_bytes(data)
    for source in (data, path):
        with crypto.SealingReader(FILE_KEY, source, aad=FILE_AAD) as reader:
            sealed = reader.read()
            assert len(sealed) == len(reader) == crypto.sealed_size(size)
            reader.seek(0)  # read again, as a storage client computing a checksum first does
            assert b"".join(iter(lambda: reader.read(4096), b"")) == sealed
        # What the whole-message functions write and read, both ways.
        assert crypto.open_with(FILE_KEY, sealed, aad=FILE_AAD) == data
        assert _opened(sealed, size) == (data, hashlib.sha256(data).hexdigest())
    assert _opened(crypto.seal_with(FILE_KEY, data, aad=FILE_AAD), size)[0] == data


def test_a_chunked_open_refuses_what_does_not_open():
    data = os.urandom(crypto.CHUNK_BYTES + 5)
    sealed = crypto.seal_with(FILE_KEY, data, aad=FILE_AAD)
    altered = bytearray(sealed)
    altered[crypto.NONCE_BYTES + 3] ^= 1
    for broken, size in [
        (bytes(altered), len(data)),
        (sealed[:-1], len(data)),  # truncated
        (sealed + b"x", len(data)),  # longer than recorded
        (sealed, len(data) - 1),  # another recorded size
    ]:
        with pytest.raises(SealBroken):
            _opened(broken, size)
    with pytest.raises(SealBroken):
        crypto.open_stream(
            FILE_KEY, io.BytesIO(sealed), plaintext_bytes=len(data), aad=b"another blob"
        )


def test_sealing_a_file_that_changes_meanwhile_fails(tmp_path):
    path = tmp_path / "upload.pdf"
    path.write_bytes(b"x" * 100)
    with crypto.SealingReader(FILE_KEY, path, aad=FILE_AAD) as reader:
        path.write_bytes(b"x" * 50)
        with pytest.raises(RuntimeError):
            reader.read()
