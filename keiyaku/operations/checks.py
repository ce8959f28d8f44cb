"""Configuration checks run at start (Django's system checks, `keiyaku check`).

Those tagged ``deploy`` run with `keiyaku check --deploy` and, when ``KEIYAKU_ENV=production``,
every time `keiyaku serve` starts (it refuses to start on an error). The others run always.
Each message says which setting to change; docs/operations.md shows a production
environment that passes them all.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError
from django.http.request import validate_host

# What the example environment in docs/operations.md puts where a secret goes.
PLACEHOLDER = "CHANGE-ME"
_CAPTURE_BACKEND = "keiyaku.notifications.mailbox.CaptureBackend"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register()
def production_without_debug(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """KEIYAKU_ENV=production with KEIYAKU_DEBUG on: error pages would show settings and code."""
    if settings.KEIYAKU_ENV == "production" and settings.DEBUG:
        return [
            Error(
                "KEIYAKU_DEBUG is on in production: error pages would show settings and code.",
                hint="Remove KEIYAKU_DEBUG (or set it to 0).",
                id="keiyaku.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def deploy_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The settings a production installation must give (no database access)."""
    errors: list[Error] = []
    if settings.KEIYAKU_ENV != "production":
        errors.append(
            Error(
                "KEIYAKU_ENV is not 'production': keiyaku serve would not check this "
                "configuration at start.",
                hint="Set KEIYAKU_ENV=production.",
                id="keiyaku.E101",
            )
        )
    for name in settings.KEIYAKU_GENERATED_SECRETS:
        what = (
            "every contract's data key is sealed with it; a second machine would make "
            "another and read nothing"
            if name == "MASTER_KEY"
            else "sessions and links are signed with it; each machine would make its own"
        )
        errors.append(
            Error(
                f"KEIYAKU_{name} is not set: a key was generated in the data folder ({what}).",
                hint=f"Set KEIYAKU_{name} from your secret store (at least 32 random bytes, "
                "e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                "the same on every machine; keep a copy apart from the backups.",
                id="keiyaku.E102" if name == "MASTER_KEY" else "keiyaku.E103",
            )
        )
    for name in (
        "SECRET_KEY",
        "MASTER_KEY",
        "MASTER_KEY_PREVIOUS",
        "SMTP_PASSWORD",
        "SIGNER_PKCS12_PASSWORD",
        "SIGNER_PKCS11_PIN",
    ):
        if PLACEHOLDER in os.environ.get(f"KEIYAKU_{name}", ""):
            errors.append(
                Error(
                    f"KEIYAKU_{name} is still the example's placeholder.",
                    hint="Put the real value in the environment file.",
                    id="keiyaku.E110",
                )
            )
    public = urlsplit(settings.PUBLIC_URL)
    host = public.hostname or ""
    if public.scheme != "https":
        errors.append(
            Error(
                f"KEIYAKU_PUBLIC_URL ({settings.PUBLIC_URL}) is not https: signing links, access "
                "codes and session cookies would cross the network in clear.",
                hint="Serve keiyaku behind a TLS proxy and set KEIYAKU_PUBLIC_URL=https://…",
                id="keiyaku.E104",
            )
        )
    elif _is_loopback(host):
        errors.append(
            Error(
                f"KEIYAKU_PUBLIC_URL ({settings.PUBLIC_URL}) names this machine: links in "
                "e-mails would lead nowhere.",
                hint="Set KEIYAKU_PUBLIC_URL to the address counterparties open.",
                id="keiyaku.E105",
            )
        )
    if "*" in settings.ALLOWED_HOSTS:
        errors.append(
            Error(
                "KEIYAKU_ALLOWED_HOSTS contains '*': any Host header is believed (password "
                "reset links could point elsewhere).",
                hint=f"Set KEIYAKU_ALLOWED_HOSTS={host or 'your.host'}",
                id="keiyaku.E106",
            )
        )
    elif host and not validate_host(host, settings.ALLOWED_HOSTS):
        errors.append(
            Error(
                f"KEIYAKU_ALLOWED_HOSTS ({','.join(settings.ALLOWED_HOSTS)}) does not include "
                f"the host of KEIYAKU_PUBLIC_URL ({host}): every request would be refused (400).",
                hint=f"Add {host} to KEIYAKU_ALLOWED_HOSTS.",
                id="keiyaku.E107",
            )
        )
    sender = settings.DEFAULT_FROM_EMAIL
    if sender.rstrip(">").endswith((".localhost", "@localhost")):
        errors.append(
            Error(
                f"KEIYAKU_MAIL_FROM ({sender}) is the built-in address: mail servers refuse it.",
                hint="Set KEIYAKU_MAIL_FROM to an address of your domain, e.g. "
                "'keiyaku <no-reply@city.example.lg.jp>'.",
                id="keiyaku.E108",
            )
        )
    return errors


@register(Tags.database, deploy=True)
def real_organisations_have_mail(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[Error]:
    """A real (non-trial) organisation exists while mail is only captured: its counterparties
    would never receive their signing requests. Reads the database, so it runs only when
    `keiyaku check` is given ``--database default`` (as `keiyaku serve` does)."""
    if not databases or "default" not in databases:
        return []
    captured_for_all = (
        settings.EMAIL_BACKEND == _CAPTURE_BACKEND or settings.KEIYAKU_MAIL_CAPTURE == "all"
    )
    if not captured_for_all:
        return []
    from keiyaku.accounts.models import Organisation

    try:
        names = list(Organisation.objects.filter(is_trial=False).values_list("slug", flat=True)[:5])
    except DatabaseError:
        return []  # not migrated yet: nothing to check
    if not names:
        return []
    return [
        Error(
            f"Real (non-trial) organisations ({', '.join(names)}) exist but no mail is sent: "
            "their signing requests would only be kept in the mailbox page.",
            hint="Set KEIYAKU_SMTP_HOST (and KEIYAKU_SMTP_USER, KEIYAKU_SMTP_PASSWORD, "
            "KEIYAKU_SMTP_STARTTLS) and leave KEIYAKU_MAIL_CAPTURE unset or 'trial'.",
            id="keiyaku.E109",
        )
    ]


# --- trust roots (issue 13) ------------------------------------------------------------------
@register(Tags.security, deploy=True)
def trust_roots_usable(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every file of KEIYAKU_TRUST_ROOTS holds certificates, and the signing certificate
    chains to a trust root with the certificates at hand (its PKCS#12 file's): otherwise every
    contract would stay unfinished, its validation data never complete (nothing is fetched
    here)."""
    from keiyaku.pki import chains
    from keiyaku.signing.keys import (
        configured_trust_roots,
        get_service_signer,
        get_trust_roots,
        signer_backend,
    )

    try:
        configured_trust_roots()
    except (OSError, ValueError) as exc:
        return [
            Error(
                f"KEIYAKU_TRUST_ROOTS cannot be read: {exc}",
                hint="List PEM files holding root certificates, separated by commas.",
                id="keiyaku.E150",
            )
        ]
    try:
        if signer_backend() == "local":
            return []
        signer = get_service_signer()
    except Exception:  # noqa: BLE001 - a key that cannot be loaded is E130–E134's to report
        return []
    pool = {c.dump(): c for c in signer.signer.cert_registry}
    try:
        chains.chain_to_root(signer.cert, pool=pool, trust_roots=get_trust_roots(), fetch=False)
    except chains.ValidationDataUnavailable as exc:
        return [
            Error(
                f"The signing certificate (KEIYAKU_SIGNER_PKCS12 or _PKCS11_*) does not chain "
                f"to a trust root: {exc}",
                hint="Put the CA's intermediates in the PKCS#12 file (or KEIYAKU_SIGNER_PKCS11_"
                "CERT) and its root in KEIYAKU_TRUST_ROOTS (docs/trust.md).",
                id="keiyaku.E151",
            )
        ]
    return []


# --- time-stamp authorities (issue 13; keiyaku.signing.tsas) -----------------------------------
@register(Tags.security, deploy=True)
def tsa_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """KEIYAKU_TSA_URLS and each TSA's credentials (KEIYAKU_TSA_<n>_…): a wrong value would stop
    every signature (no signature is made without a timestamp), so it is refused at start."""
    import ssl

    errors: list[Error] = []
    credentials = settings.KEIYAKU_TSA_CREDENTIALS
    for position, url in enumerate(settings.KEIYAKU_TSA_URLS, start=1):
        parts = urlsplit(url)
        given = credentials.get(position, {})
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append(
                Error(
                    f"KEIYAKU_TSA_URLS: TSA {position} ({url}) is not an http(s) URL.",
                    hint="List RFC 3161 endpoints, e.g. https://tsa.example.jp/tsp, "
                    "comma-separated, in order of preference.",
                    id="keiyaku.E140",
                )
            )
            continue
        try:
            if given.get("ca_file") or given.get("client_cert"):
                context = ssl.create_default_context(cafile=given.get("ca_file") or None)
                if given.get("client_cert"):
                    context.load_cert_chain(given["client_cert"], given.get("client_key") or None)
        except (OSError, ValueError) as exc:
            errors.append(
                Error(
                    f"KEIYAKU_TSA_{position}_CLIENT_CERT / _CLIENT_KEY / _CA_FILE: the files of "
                    f"TSA {position} cannot be used ({exc}).",
                    hint="Name readable PEM files: the client certificate (with its key, or the "
                    "key in _CLIENT_KEY) and the CA certificates of the TSA's server.",
                    id="keiyaku.E141",
                )
            )
        has_password = bool(given.get("username") or given.get("password"))
        if has_password and parts.scheme != "https" and not _is_loopback(parts.hostname):
            errors.append(
                Error(
                    f"KEIYAKU_TSA_{position}_USERNAME / _PASSWORD are set for a plain-http TSA "
                    f"({parts.hostname}): the password would cross the network in clear.",
                    hint=f"Use the TSA's https URL in KEIYAKU_TSA_URLS (TSA {position}).",
                    id="keiyaku.E142",
                )
            )
        if PLACEHOLDER in given.get("password", ""):
            errors.append(
                Error(
                    f"KEIYAKU_TSA_{position}_PASSWORD is still the example's placeholder.",
                    hint="Put the real value in the environment file.",
                    id="keiyaku.E110",
                )
            )
    return errors
