"""OpenID Connect relying party: authorisation-code flow with PKCE (RFC 7636).

The discovery document gives the endpoints; the ID token's signature is checked against the
provider's JWKS with joserfc, then its issuer, audience, expiry and nonce. Every call to the
provider (discovery, token, JWKS) goes through `keiyaku.outbound_http`, which refuses internal
addresses (also after a redirect) unless the operator allowed them, and speaks https only.
An `OutboundRefused` (a `Refusal`) passes through to the view as it is; any other failure is an
`OidcError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from keiyaku import outbound_http
from keiyaku.login import clock

SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


class OidcError(Exception):
    """The provider could not be used or returned something we must not trust.

    The message is a diagnostic for the log, never shown: `login.services` turns it into a
    `SignInRefused` with a translated message.
    """


@dataclass(frozen=True)
class Client:
    """One organisation's registration at its provider."""

    issuer: str
    """The issuer URL, without a trailing slash."""
    client_id: str
    client_secret: str
    redirect_uri: str
    """keiyaku's callback URL for this organisation, as registered at the provider."""


@dataclass(frozen=True)
class Pending:
    """What the callback must find again in the session (state, nonce, PKCE verifier)."""

    state: str
    nonce: str
    verifier: str


def _request(
    url: str, *, data: dict[str, str] | None = None, auth: tuple[str, str] | None = None
) -> dict[str, Any]:
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth is not None:
        # client_secret_basic: both parts form-encoded first (RFC 6749 2.3.1).
        pair = f"{quote(auth[0], safe='')}:{quote(auth[1], safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    try:
        response = outbound_http.fetch(
            url,
            method="POST" if body is not None else "GET",
            headers=headers,
            body=body,
            timeout=settings.KEIYAKU_OIDC_TIMEOUT,
        )
    except outbound_http.OutboundError as exc:
        raise OidcError(f"{url}: {exc}") from exc
    if not 200 <= response.status < 300:
        raise OidcError(f"{url}: HTTP {response.status} {response.body[:2000]!r}")
    try:
        parsed = json.loads(response.body)
    except ValueError as exc:
        raise OidcError(f"{url}: not JSON") from exc
    if not isinstance(parsed, dict):
        raise OidcError(f"{url}: not a JSON object")
    return parsed


def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata; its `issuer` must be exactly the configured one."""
    document = _request(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if document.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise OidcError("the discovery document names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise OidcError(f"the discovery document has no {key}")
    return document


def authorization_url(client: Client) -> tuple[str, Pending]:
    """Where to send the browser, and what to keep in the session for the callback."""
    metadata = discover(client.issuer)
    pending = Pending(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),
    )
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest())
        .decode()
        .rstrip("=")
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "openid email profile",
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    endpoint = metadata["authorization_endpoint"]
    outbound_http.browser_url_check(endpoint)  # the browser goes there, not the server
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{query}", pending


def id_token_claims(client: Client, *, code: str, pending: Pending) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and return the checked ID token's claims."""
    metadata = discover(client.issuer)
    tokens = _request(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": pending.verifier,
        },
        auth=(client.client_id, client.client_secret),
    )
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("the token response has no ID token")
    keys = KeySet.import_key_set(_request(metadata["jwks_uri"]))  # type: ignore[arg-type]
    try:
        token = jwt.decode(id_token, keys, algorithms=SIGNING_ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            now=int(clock.now().timestamp()),
            leeway=60,
            iss={"essential": True, "value": client.issuer},
            aud={"essential": True, "value": client.client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": pending.nonce},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise OidcError(f"ID token refused: {exc}") from exc
    claims = dict(token.claims)
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client.client_id:
        raise OidcError("ID token for several audiences without our client as azp")
    return claims
