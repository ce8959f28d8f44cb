"""The process-wide authority, from Django settings (the only Django-aware part of PKI)."""

from __future__ import annotations

from django.conf import settings

from keiyaku.settings_keyed import keyed_on_settings
from keiyaku.storage.crypto import master_key_passphrases

from .authority import Authority, ensure_authority

__all__ = ["get_authority"]


@keyed_on_settings("KEIYAKU_PKI_DIR", "MASTER_KEY", "MASTER_KEY_PREVIOUS")
def get_authority() -> Authority:
    """keiyaku's own authority, created in ``KEIYAKU_PKI_DIR`` on first use, loaded once.

    Keys are encrypted with ``MASTER_KEY`` and decrypted with it or one of
    ``MASTER_KEY_PREVIOUS`` (storage/crypto.py's `master_key_passphrases`); ``PUBLIC_URL`` is
    written into new certificates as the CRL, OCSP and CA-issuer location (``/pki/...``) when
    the folder is created. Reloaded when the folder or a master key setting changes.
    """
    current, *older = master_key_passphrases()
    return ensure_authority(
        settings.KEIYAKU_PKI_DIR,
        passphrase=current,
        older_passphrases=older,
        base_url=settings.PUBLIC_URL,
    )
