"""The process-wide authority, from Django settings (the only Django-aware part of PKI)."""

from __future__ import annotations

import functools

from django.conf import settings

from .authority import Authority, ensure_authority

__all__ = ["get_authority"]


@functools.cache
def get_authority() -> Authority:
    """keiyaku's own authority, created in ``KEIYAKU_PKI_DIR`` on first use, loaded once.

    Keys are decrypted with ``MASTER_KEY``; ``PUBLIC_URL`` is written into new certificates
    as the CRL, OCSP and CA-issuer location (``/pki/...``).
    """
    return ensure_authority(
        settings.KEIYAKU_PKI_DIR,
        passphrase=settings.MASTER_KEY.encode(),
        base_url=settings.PUBLIC_URL,
    )
