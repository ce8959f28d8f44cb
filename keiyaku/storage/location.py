"""KEIYAKU_STORAGE_URL: where stored objects live, as one URL (R43, issue 11).

``parse_storage_url`` turns the URL into the ``STORAGES["default"]`` entry Django reads. It is
plain Python (no Django models), so settings.py can call it while settings load; a wrong URL stops
the process at start with ImproperlyConfigured and a message naming the mistake.

Forms:

- ``file:///var/keiyaku/files`` — a local folder (an absolute path). The default is the data
  folder's ``files`` (KEIYAKU_DATA_DIR/files), as before this setting existed.
- ``s3://bucket`` or ``s3://bucket/prefix`` with optional query parameters:
  ``endpoint_url`` (an S3-compatible server, ``https://…``; AWS S3 when absent), ``region``,
  ``addressing_style`` (``path``, ``virtual`` or ``auto``; ``path`` when an ``endpoint_url`` is
  given, since most self-hosted servers want it), ``write_check`` (``conditional``: a put carries
  ``If-None-Match: *`` and the server refuses it when the key exists — the default; ``head``: ask
  first, then put, for servers that do not support conditional puts; there is a race, see
  keiyaku.storage.backends), ``verify`` (``0`` to accept any TLS certificate — tests only — or the
  path of a CA bundle).

Credentials never go in the URL (the URL is shown in logs and on the operator's pages): a URL
with ``user:password@`` is refused. They come from KEIYAKU_S3_ACCESS_KEY_ID and
KEIYAKU_S3_SECRET_ACCESS_KEY when set, otherwise from boto3's usual chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, a profile, an instance or container role).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ImproperlyConfigured

FILE_BACKEND = "keiyaku.storage.backends.WriteOnceFileSystemStorage"
S3_BACKEND = "keiyaku.storage.backends.WriteOnceS3Storage"
S3_PARAMETERS = ("endpoint_url", "region", "addressing_style", "write_check", "verify")
WRITE_CHECKS = ("conditional", "head")
# Bucket names as AWS S3 allows them (3–63 lower-case letters, digits, dots and hyphens).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _refuse(message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"KEIYAKU_STORAGE_URL: {message}")


def parse_storage_url(url: str, *, access_key: str = "", secret_key: str = "") -> dict[str, object]:
    """The ``STORAGES["default"]`` entry (``{"BACKEND": …, "OPTIONS": {…}}``) for ``url``.

    ``access_key`` and ``secret_key`` (KEIYAKU_S3_ACCESS_KEY_ID, KEIYAKU_S3_SECRET_ACCESS_KEY)
    apply to ``s3://`` only; both or neither must be given. Raises ImproperlyConfigured for an
    unknown scheme, a relative folder, credentials in the URL, a missing or malformed bucket
    name, an unknown or repeated query parameter, or an unknown ``write_check`` or
    ``addressing_style``.
    """
    parts = urlsplit(url.strip())
    if parts.username is not None or parts.password is not None:
        raise _refuse(
            "credentials do not belong in the URL (it is shown in logs); "
            "set KEIYAKU_S3_ACCESS_KEY_ID and KEIYAKU_S3_SECRET_ACCESS_KEY instead"
        )
    if parts.scheme == "file":
        return _file(parts.netloc, parts.path, parts.query)
    if parts.scheme == "s3":
        return _s3(parts.netloc, parts.path, parts.query, access_key, secret_key)
    raise _refuse(f"unknown scheme {parts.scheme!r}; use file:///folder or s3://bucket/prefix")


def _file(netloc: str, path: str, query: str) -> dict[str, object]:
    if netloc or not path.startswith("/"):
        raise _refuse("a folder must be an absolute path: file:///var/keiyaku/files")
    if query:
        raise _refuse("file:// takes no parameters")
    return {"BACKEND": FILE_BACKEND, "OPTIONS": {"location": path}}


def _s3(netloc: str, path: str, query: str, access_key: str, secret_key: str) -> dict[str, object]:
    if not _BUCKET_RE.match(netloc) or ".." in netloc:
        raise _refuse(f"{netloc!r} is not a bucket name (3–63 of a-z, 0-9, '.', '-')")
    prefix = str(PurePosixPath(path)).strip("/") if path.strip("/") else ""
    if any(part in {".", ".."} for part in prefix.split("/")):
        raise _refuse("the key prefix may not contain '.' or '..'")
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key not in S3_PARAMETERS:
            raise _refuse(f"unknown parameter {key!r}; known: {', '.join(S3_PARAMETERS)}")
        if key in params:
            raise _refuse(f"parameter {key!r} given twice")
        params[key] = value
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured(
            "KEIYAKU_S3_ACCESS_KEY_ID and KEIYAKU_S3_SECRET_ACCESS_KEY go together"
        )
    endpoint = params.get("endpoint_url") or None
    if endpoint is not None:
        ends = urlsplit(endpoint)
        if ends.scheme not in {"http", "https"} or not ends.hostname:
            raise _refuse(f"endpoint_url must be http(s)://host[:port], not {endpoint!r}")
        if ends.username is not None or ends.password is not None:
            raise _refuse("credentials do not belong in endpoint_url")
    style = params.get("addressing_style") or ("path" if endpoint else "auto")
    if style not in {"path", "virtual", "auto"}:
        raise _refuse(f"addressing_style must be path, virtual or auto, not {style!r}")
    write_check = params.get("write_check") or "conditional"
    if write_check not in WRITE_CHECKS:
        raise _refuse(f"write_check must be one of {', '.join(WRITE_CHECKS)}, not {write_check!r}")
    verify: bool | str | None = None
    if "verify" in params:
        verify = {"0": False, "1": True}.get(params["verify"], params["verify"])
    return {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": netloc,
            "location": prefix,
            "endpoint_url": endpoint,
            "region_name": params.get("region") or None,
            "addressing_style": style,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "verify": verify,
            "write_check": write_check,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
