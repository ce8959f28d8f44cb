"""Who may ask keiyaku's time-stamp authority (``/pki/tsa``) for a token.

A token names keiyaku's TSA; handed to anyone, it lets a made-up file carry keiyaku's name.
Unless the operator opens the endpoint (``KEIYAKU_TSA_PUBLIC``), it answers only requests that
carry the client token in :data:`HEADER`. Every keiyaku process (web, worker) derives the same
token from the master key, so nothing new is stored or shared; changing the master key changes
it. While the master key is rotated, a token derived from a previous key
(KEIYAKU_MASTER_KEY_PREVIOUS) is still accepted, so that a process still running with the old
key can reach a web process that already has the new one. The token goes only to keiyaku's own
endpoint, never to an external TSA.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from keiyaku.storage.crypto import master_keys

__all__ = ["HEADER", "client_token", "headers_for", "request_allowed"]

HEADER = "X-Keiyaku-TSA-Token"
_LABEL = b"keiyaku /pki/tsa client token v1"
_PATH = "/pki/tsa"


def _token(master: str) -> str:
    return hmac.new(master.encode(), _LABEL, hashlib.sha256).hexdigest()


def client_token() -> str:
    """HMAC-SHA256 of a fixed label under the current master key, hex: reveals nothing of it."""
    return _token(settings.MASTER_KEY)


def request_allowed(request: HttpRequest) -> bool:
    """The endpoint is open, or the request carries the client token of the current master key
    or of a previous one."""
    if settings.KEIYAKU_TSA_PUBLIC:
        return True
    given = request.headers.get(HEADER, "").encode()
    # Every key compared, whichever matches: the time taken says nothing of which did.
    matches = [hmac.compare_digest(given, _token(master).encode()) for master in master_keys()]
    return any(matches)


def headers_for(url: str) -> dict[str, str]:
    """The header to send to a TSA ``url``: the token for keiyaku's own endpoint (on the
    origin of ``PUBLIC_URL``, or on loopback), nothing for any other."""
    return {HEADER: client_token()} if _is_own_endpoint(url) else {}


def _is_own_endpoint(url: str) -> bool:
    parts = urlsplit(url)
    if url.rstrip("/") == f"{settings.PUBLIC_URL}{_PATH}":
        return True
    return parts.path.rstrip("/").endswith(_PATH) and _is_loopback(parts.hostname)


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
