"""One settings module, configured by KEIYAKU_* environment variables.

Defaults give the embedded set-up: SQLite, local encrypted files, the local PKI and timestamp
authority, and e-mail captured in the mailbox page.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"KEIYAKU_{name}", default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name, "1" if default else "0").strip().lower()
    return value in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


DATA_DIR = Path(env("DATA_DIR", str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_from_file(name: str, nbytes: int) -> str:
    """A secret kept in the data folder, created on first start (embedded set-up only)."""
    path = DATA_DIR / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(nbytes))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY") or _secret_from_file("secret_key", 48)
# The master key seals every contract's own data key and the sign-in secrets (storage/crypto.py).
MASTER_KEY = env("MASTER_KEY") or _secret_from_file("master_key", 32)


# --- master key rotation (storage/crypto.py, `keiyaku rotate-master-key`) -------------------
# Older master keys still accepted for opening, never for sealing: KEIYAKU_MASTER_KEY_PREVIOUS
# (comma-separated), else the data folder's master_key_previous file (one key a line, the
# embedded set-up's way: move master_key there and the next start makes a new one).
def _previous_master_keys() -> list[str]:
    given = env("MASTER_KEY_PREVIOUS")
    path = DATA_DIR / "master_key_previous"
    if given:
        keys = given.split(",")
    elif path.exists():
        keys = path.read_text().splitlines()
    else:
        keys = []
    found: list[str] = []
    for key in (k.strip() for k in keys):
        if key and key != MASTER_KEY and key not in found:
            found.append(key)
    return found


MASTER_KEY_PREVIOUS = _previous_master_keys()
# --- end of master key rotation --------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
PUBLIC_URL = env("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "keiyaku.accounts",
    "keiyaku.storage",
    "keiyaku.audit",
    "keiyaku.contracts",
    "keiyaku.addressbook",
    "keiyaku.applications",
    "keiyaku.notifications",
    "keiyaku.signing",
    "keiyaku.pki",
    "keiyaku.web",
    "keiyaku.login",
    "keiyaku.counterparty_accounts",
    "keiyaku.ratelimits",
    "keiyaku.operations",
    "keiyaku.jobs",
    "keiyaku.help",
    "keiyaku.webhooks",
    "keiyaku.api",
    # django-ninja: its Swagger UI's files are served from here, never from a CDN (issue 16).
    "ninja",
]

MIDDLEWARE = [
    "keiyaku.operations.request_id.RequestIdMiddleware",
    "keiyaku.operations.middleware.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "keiyaku.web.upload_names.UploadNamesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads a request body (CSRF reads request.POST).
    "keiyaku.web.upload_limits.RequestSizeMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "keiyaku.login.middleware.SignInPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "keiyaku.web.middleware.ContentSecurityPolicyMiddleware",
    "keiyaku.accounts.middleware.IpAllowListMiddleware",
    # /api/v1: bearer token, IP allow-list, scope, rate, Idempotency-Key, ETag, audit (R40).
    "keiyaku.api.gate.ApiGateMiddleware",
]

ROOT_URLCONF = "keiyaku.urls"
# Django's form renderer, with its built-in widgets written without a template each.
FORM_RENDERER = "keiyaku.web.form_renderer.WidgetRenderer"
WSGI_APPLICATION = "keiyaku.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "keiyaku.web.context.site",
                "keiyaku.operations.context.maintenance",
            ],
        },
    }
]

# --- database (KEIYAKU_DATABASE_URL) -----------------------------------------------------------
# Empty: the embedded SQLite file in the data folder. postgres://user:password@host:port/name
# (a socket folder as a quoted host: postgres://user@%2Fvar%2Frun%2Fpostgresql/name; libpq
# options such as ?sslmode=verify-full as query) for production; sqlite:////absolute/path too.
# Parsed by dj-database-url; other engines are refused at start (only these two are tested).
_SQLITE_MMAP_BYTES = env_int("SQLITE_MMAP_BYTES", 2**31)
_SQLITE_OPTIONS = {
    # WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock when a
    # transaction starts, so two writers queue (20 s) instead of failing half-way.
    # mmap_size: pages are read from the operating system's cache through a mapping, not
    # copied by a system call each; a request's connection starts with an empty page cache,
    # and a search's index lookups touch thousands of pages (bench/search.py: 69 → 43 ms for
    # a word inside a year of contract dates over a million contracts). SQLite caps it at
    # its build's limit (2 GiB); 0 turns it off.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
    f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES};",
    "transaction_mode": "IMMEDIATE",
    # Seconds a write waits for another transaction to end before "database is locked".
    "timeout": env_int("SQLITE_TIMEOUT", 20),
}
# Seconds a PostgreSQL connection is kept for the next request (0: one per request).
KEIYAKU_DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60)


def _database(url: str) -> dict[str, object]:
    """Django's DATABASES["default"] for KEIYAKU_DATABASE_URL (empty: the embedded SQLite)."""
    from django.core.exceptions import ImproperlyConfigured

    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "keiyaku.sqlite3",
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    import dj_database_url

    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"KEIYAKU_DATABASE_URL: unsupported database {scheme or url!r}; use "
            "postgres://user:password@host:5432/name or sqlite:////absolute/path"
        )
    try:
        parsed = dj_database_url.parse(
            url, conn_max_age=KEIYAKU_DATABASE_CONN_MAX_AGE, conn_health_checks=True
        )
    except ValueError as error:
        raise ImproperlyConfigured(f"KEIYAKU_DATABASE_URL: {error}") from error
    config: dict[str, object] = dict(parsed)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if not config.get("NAME") or config["NAME"] == ":memory:":
            raise ImproperlyConfigured(
                "KEIYAKU_DATABASE_URL: a SQLite URL names a file: sqlite:////absolute/path"
            )
        # One file opened by several processes: no persistent connections, same pragmas.
        config.update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False, OPTIONS=dict(_SQLITE_OPTIONS))
    elif not config.get("NAME"):
        raise ImproperlyConfigured("KEIYAKU_DATABASE_URL: the URL names no database")
    else:
        # No JIT compilation: PostgreSQL compiles a query whose estimated cost passes
        # jit_above_cost, which a search over a million contracts can reach while it runs in
        # milliseconds; the compiling took 70 ms of an 80 ms page (bench/search.py).
        options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
        config["OPTIONS"] = options
    return config


DATABASES: dict[str, dict[str, object]] = {"default": _database(env("DATABASE_URL"))}
# --- end of the database block -----------------------------------------------------------------
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.Staff"
# Staff read with their organisation and its sign-in policy in one query (keiyaku.login.backends).
AUTHENTICATION_BACKENDS = ["keiyaku.login.backends.StaffBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "contract-list"
LOGOUT_REDIRECT_URL = "login"

# AUTH_PASSWORD_VALIDATORS: see the sign-in block below.

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# HSTS is sent only on requests that arrived over TLS (Django's SecurityMiddleware).
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000 if PUBLIC_URL.startswith("https://") else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
# Every page's Content-Security-Policy: no inline scripts or styles anywhere (web/middleware.py).
KEIYAKU_CSP = env(
    "CSP",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

# --- organisation security (R38, R39) ----------------------------------------------------------
# Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR ranges, comma-separated).
KEIYAKU_TRUSTED_PROXIES = [p.strip() for p in env("TRUSTED_PROXIES").split(",") if p.strip()]
if KEIYAKU_TRUSTED_PROXIES:
    # The trusted proxy terminates TLS and says so; nobody else reaches the app.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Audit entries stay in the database this long, then move to an archive file (at least a year).
KEIYAKU_AUDIT_RETENTION_DAYS = max(365, env_int("AUDIT_RETENTION_DAYS", 400))
# Rate limits per client address: attempts per window (seconds).
KEIYAKU_RATE_ACCESS_CODE = (
    env_int("RATE_ACCESS_CODE", 30),
    env_int("RATE_ACCESS_CODE_WINDOW", 600),
)
KEIYAKU_RATE_VERIFY = (env_int("RATE_VERIFY", 30), env_int("RATE_VERIFY_WINDOW", 600))
# API calls per token: calls per window (seconds); past it a 429 with Retry-After (R40).
KEIYAKU_RATE_API = (env_int("RATE_API", 600), env_int("RATE_API_WINDOW", 60))
# The longest an API token may live (days from its making).
KEIYAKU_API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 366)
# Largest staff CSV accepted (R35).
KEIYAKU_STAFF_CSV_MAX_BYTES = env_int("STAFF_CSV_MAX_KB", 5 * 1024) * 1024


# --- keiyaku limits (R5), all settings ---------------------------------------------------------
KEIYAKU_MAX_FILES = env_int("MAX_FILES", 5)
KEIYAKU_MAX_FILE_BYTES = env_int("MAX_FILE_MB", 20) * 1024 * 1024
KEIYAKU_MAX_CONTRACT_BYTES = env_int("MAX_CONTRACT_MB", 50) * 1024 * 1024
# What one PDF may cost to rewrite and render (issue 10, finding 4), checked at upload before
# anything decodes it: pages per file, the longest side of a page (PDF's own limit is 14,400
# units; checked in units and in points on paper with /UserUnit), decoded bytes per stream
# and per file.
KEIYAKU_MAX_PAGES = env_int("MAX_PAGES", 2000)
KEIYAKU_MAX_PAGE_POINTS = env_int("MAX_PAGE_POINTS", 14400)
KEIYAKU_MAX_STREAM_BYTES = env_int("MAX_STREAM_MB", 256) * 1024 * 1024
KEIYAKU_MAX_DECODED_BYTES = env_int("MAX_DECODED_MB", 1024) * 1024 * 1024
# Form XObjects one page draws, each form inside a form counted as often as it is drawn.
KEIYAKU_MAX_FORM_DRAWS = env_int("MAX_FORM_DRAWS", 50_000)
# Uploads are written to disk while the request is read (only files up to this size stay in
# memory), under DATA_DIR/uploads; a request larger than KEIYAKU_MAX_REQUEST_BYTES is refused
# from its Content-Length before anything is read (keiyaku/web/upload_limits.py).
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("UPLOAD_MEMORY_KB", 1024) * 1024
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "uploads")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# The most a request body holds: every file of a contract at its limit (or the verification
# page's file, up to three times the file limit), plus 1 MB for the form.
KEIYAKU_MAX_REQUEST_BYTES = env_int(
    "MAX_REQUEST_MB",
    (max(KEIYAKU_MAX_CONTRACT_BYTES, 3 * KEIYAKU_MAX_FILE_BYTES) + 1024 * 1024) // (1024 * 1024),
) * (1024 * 1024)
# Form fields (not files) of one request held in memory (Django's own check).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
KEIYAKU_MAX_PARTIES = env_int("MAX_PARTIES", 100)
# Pixels in one page image; a larger page is drawn smaller instead (issue 10, finding 4).
KEIYAKU_MAX_RENDER_PIXELS = env_int("MAX_RENDER_PIXELS", 12_000_000)
# Encoded page images each web process keeps in memory (keiyaku.web.page_images); 0: none, every
# image from the object store. 48 MB holds bench/web.py's 200 images in turn (38 MB).
KEIYAKU_PAGE_IMAGE_CACHE_BYTES = env_int("PAGE_IMAGE_CACHE_MB", 48) * 1024 * 1024
# How often one signing request may be forwarded (R17); forwarded rows count as parties.
KEIYAKU_MAX_FORWARDS = env_int("MAX_FORWARDS", 3)
KEIYAKU_ACCESS_CODE_ATTEMPTS = env_int("ACCESS_CODE_ATTEMPTS", 5)
# A signing link lives until its contract's deadline (issue 14; KEIYAKU_SIGN_LINK_DAYS is gone).
KEIYAKU_DOWNLOAD_LINK_DAYS = env_int("DOWNLOAD_LINK_DAYS", 14)
# The online application (電子契約利用申出書, R14): how long its link stays usable.
KEIYAKU_APPLICATION_LINK_DAYS = env_int("APPLICATION_LINK_DAYS", 14)
KEIYAKU_DEADLINE_DAYS = env_int("DEADLINE_DAYS", 7)  # default signing deadline (R11)
KEIYAKU_REMIND_DAYS_BEFORE = env_int("REMIND_DAYS_BEFORE", 1)  # automatic reminder (R11)
KEIYAKU_ATTACH_LIMIT_BYTES = env_int("ATTACH_LIMIT_KB", 6 * 1024) * 1024
# A counterparty's free account (R3): the one-time sign-in link's life, the mails it may be
# sent per e-mail address and per client address, wrong TOTP codes per account ((count, seconds)).
KEIYAKU_ACCOUNT_LINK_MINUTES = env_int("ACCOUNT_LINK_MINUTES", 15)
KEIYAKU_RATE_ACCOUNT_MAIL_PER_ADDRESS = (
    env_int("RATE_ACCOUNT_MAIL_PER_ADDRESS", 5),
    env_int("RATE_ACCOUNT_MAIL_WINDOW", 3600),
)
KEIYAKU_RATE_ACCOUNT_MAIL_PER_IP = (
    env_int("RATE_ACCOUNT_MAIL_PER_IP", 20),
    env_int("RATE_ACCOUNT_MAIL_WINDOW", 3600),
)
KEIYAKU_RATE_ACCOUNT_TOTP = (
    env_int("RATE_ACCOUNT_TOTP", 5),
    env_int("RATE_ACCOUNT_TOTP_WINDOW", 300),
)

# --- signing and PKI (R26) -------------------------------------------------------------------
KEIYAKU_PKI_DIR = Path(env("PKI_DIR", str(DATA_DIR / "pki")))
# Time-stamp authorities tried in order; the default is keiyaku's own endpoint.
KEIYAKU_TSA_URLS = [u for u in env("TSA_URLS", f"{PUBLIC_URL}/pki/tsa").split(",") if u]
# /pki/tsa answers anyone only when open; closed, keiyaku's own processes (pki/tsa_access.py).
KEIYAKU_TSA_PUBLIC = env_bool("TSA_PUBLIC", False)


# --- TSA credentials and failover (keiyaku.signing.timestamping; docs/trust.md) ---
# The n-th URL of KEIYAKU_TSA_URLS (counting from 1) may have HTTP Basic credentials and a TLS
# client certificate: KEIYAKU_TSA_<n>_USERNAME, _PASSWORD, _CLIENT_CERT (PEM: certificate, and
# the key unless _CLIENT_KEY names it), _CA_FILE (PEM: CAs for its https server certificate).
def _tsa_credentials(count: int) -> dict[int, dict[str, str]]:
    """{n: {"username", "password", "client_cert", "client_key", "ca_file"}} for n = 1…count."""
    return {
        n: {
            "username": env(f"TSA_{n}_USERNAME"),
            "password": env(f"TSA_{n}_PASSWORD"),
            "client_cert": env(f"TSA_{n}_CLIENT_CERT"),
            "client_key": env(f"TSA_{n}_CLIENT_KEY"),
            "ca_file": env(f"TSA_{n}_CA_FILE"),
        }
        for n in range(1, count + 1)
    }


KEIYAKU_TSA_CREDENTIALS = _tsa_credentials(len(KEIYAKU_TSA_URLS))
# Seconds one TSA may take to answer before the next is asked.
KEIYAKU_TSA_TIMEOUT = float(env("TSA_TIMEOUT", "10"))
KEIYAKU_SIGNER_PKCS12 = env("SIGNER_PKCS12")
KEIYAKU_SIGNER_PKCS12_PASSWORD = env("SIGNER_PKCS12_PASSWORD")
# Trust roots besides keiyaku's own (issue 13): comma-separated PEM (or DER) files, e.g. an
# external signing CA's root and each TSA's root. Finalising, the verification page and
# `keiyaku verify` trust them; the "about trust" page lists them.
KEIYAKU_TRUST_ROOTS = [p.strip() for p in env("TRUST_ROOTS", "").split(",") if p.strip()]
# The signing key in an HSM, through PKCS#11 (keiyaku/signing/hsm.py, docs/trust.md): the
# vendor's module, the token's label, the key's label and/or ID (hex), the user PIN (or a file
# holding it), and the certificate chain as PEM (empty: read from the token).
KEIYAKU_SIGNER_PKCS11_MODULE = env("SIGNER_PKCS11_MODULE")
KEIYAKU_SIGNER_PKCS11_TOKEN_LABEL = env("SIGNER_PKCS11_TOKEN_LABEL")
KEIYAKU_SIGNER_PKCS11_KEY_LABEL = env("SIGNER_PKCS11_KEY_LABEL")
KEIYAKU_SIGNER_PKCS11_KEY_ID = env("SIGNER_PKCS11_KEY_ID")
KEIYAKU_SIGNER_PKCS11_PIN = env("SIGNER_PKCS11_PIN")
KEIYAKU_SIGNER_PKCS11_PIN_FILE = env("SIGNER_PKCS11_PIN_FILE")
KEIYAKU_SIGNER_PKCS11_CERT = env("SIGNER_PKCS11_CERT")

# Agreements older than this whose signature job has not run are finished by the sweeper.
KEIYAKU_SWEEP_AFTER_SECONDS = env_int("SWEEP_AFTER_SECONDS", 120)

# Every PDF validation (ingest proof, `keiyaku verify`, the public page, finalising) runs in a
# child process under this budget (keiyaku.signing.budget); the ingest proof gets a quarter of
# the time. A 17-party contract verifies in a few seconds.
KEIYAKU_VALIDATION_SECONDS = env_int("VALIDATION_SECONDS", 120)
KEIYAKU_VALIDATION_MEMORY_MB = env_int("VALIDATION_MEMORY_MB", 2048)
# The budget of one upload's whole ingest (limits, rewrite, checks, proof), in a child process.
KEIYAKU_INGEST_SECONDS = env_int("INGEST_SECONDS", 180)
KEIYAKU_INGEST_MEMORY_MB = env_int("INGEST_MEMORY_MB", 3072)

# --- sign-in (R37) ---------------------------------------------------------------------------
# Password policy: length, not a common password, not all digits, not like the login ID or name.
KEIYAKU_PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 10)
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": KEIYAKU_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "email", "display_name")},
    },
]
# Consecutive failed logins (password or second factor) that lock an account, and for how long.
KEIYAKU_LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
KEIYAKU_LOGIN_LOCK_MINUTES = env_int("LOGIN_LOCK_MINUTES", 30)
# Rate limit of the login endpoints: attempts per window, per client address and per login ID.
KEIYAKU_LOGIN_RATE_WINDOW_SECONDS = env_int("LOGIN_RATE_WINDOW_SECONDS", 300)
KEIYAKU_LOGIN_RATE_PER_IP = env_int("LOGIN_RATE_PER_IP", 30)
KEIYAKU_LOGIN_RATE_PER_LOGIN_ID = env_int("LOGIN_RATE_PER_LOGIN_ID", 10)
# Idle timeout for organisations that have not set their own (minutes).
KEIYAKU_SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 60)
# Seconds allowed between the password and the second step (TOTP code or enrolment).
KEIYAKU_LOGIN_PENDING_SECONDS = env_int("LOGIN_PENDING_SECONDS", 600)
# Timeout of calls to an organisation's OpenID provider (seconds).
KEIYAKU_OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_MINUTES", 60) * 60
# The link a new staff member gets to choose a first password (keiyaku.accounts.tokens).
KEIYAKU_WELCOME_LINK_DAYS = env_int("WELCOME_LINK_DAYS", 7)

# --- outbound HTTP (keiyaku.outbound_http) ---------------------------------------------------
# Calls to URLs an organisation sets (its OpenID provider, webhooks) never go to loopback, private,
# link-local or metadata addresses, except those the operator lists here: comma-separated
# addresses, CIDR ranges or host names (e.g. an identity provider on the internal network).
KEIYAKU_OUTBOUND_ALLOW = [a.strip() for a in env("OUTBOUND_ALLOW").split(",") if a.strip()]
# Largest answer read from such a call.
KEIYAKU_OUTBOUND_MAX_KB = env_int("OUTBOUND_MAX_KB", 1024)

# --- webhooks (keiyaku.webhooks, R40; docs/api.md "Webhooks") --------------------------------
# Seconds one delivery attempt may take (connect, send, answer) before it counts as failed.
KEIYAKU_WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
# Hours the previous secret keeps signing (a second v1) after 「秘密鍵を更新」.
KEIYAKU_WEBHOOK_ROTATION_HOURS = env_int("WEBHOOK_ROTATION_HOURS", 24)
# Consecutive failed attempts after which an endpoint is shown to admins as failing.
KEIYAKU_WEBHOOK_FAILING_AFTER = env_int("WEBHOOK_FAILING_AFTER", 3)
# Endpoints an organisation may have.
KEIYAKU_WEBHOOK_ENDPOINTS = env_int("WEBHOOK_ENDPOINTS", 10)

# --- stored objects (R43; issue 11: S3-compatible object storage) ----------------------------
# KEIYAKU_STORAGE_URL: file:///folder (default: the data folder's files/) or
# s3://bucket/prefix?endpoint_url=…&region=… (keiyaku/storage/location.py). Write-once either way.
# S3 credentials: KEIYAKU_S3_ACCESS_KEY_ID and KEIYAKU_S3_SECRET_ACCESS_KEY, else boto3's own
# chain (AWS_ACCESS_KEY_ID …, a profile, an instance role); never in the URL.
from keiyaku.storage.location import parse_storage_url  # noqa: E402

KEIYAKU_STORAGE_URL = env("STORAGE_URL") or (DATA_DIR / "files").as_uri()
if not env("STORAGE_URL"):
    # The embedded default exists from the start (/readyz asks for the folder); a folder named
    # in KEIYAKU_STORAGE_URL is the operator's (a volume not mounted must fail readiness).
    (DATA_DIR / "files").mkdir(mode=0o700, exist_ok=True)
# "staticfiles" is replaced by WhiteNoise's in the web server block below.
STORAGES: dict[str, dict[str, Any]] = {
    "default": parse_storage_url(
        KEIYAKU_STORAGE_URL,
        access_key=env("S3_ACCESS_KEY_ID"),
        secret_key=env("S3_SECRET_ACCESS_KEY"),
    ),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- e-mail ----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("MAIL_FROM", "keiyaku <no-reply@keiyaku.localhost>")
if env("SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("SMTP_HOST")
    EMAIL_PORT = env_int("SMTP_PORT", 25)
    EMAIL_HOST_USER = env("SMTP_USER")
    EMAIL_HOST_PASSWORD = env("SMTP_PASSWORD")
    EMAIL_USE_TLS = env_bool("SMTP_STARTTLS", False)
    EMAIL_TIMEOUT = 30
else:
    # Captured in the database and shown on the mailbox page (embedded set-up and tests).
    EMAIL_BACKEND = "keiyaku.notifications.mailbox.CaptureBackend"
# Whose mail is captured instead of sent (keiyaku.notifications.services.mail_connection):
# "trial" = trial organisations' only (R46), the others' goes through EMAIL_BACKEND;
# "all" = everybody's, the default without an SMTP relay so that a fresh machine works.
KEIYAKU_MAIL_CAPTURE = env("MAIL_CAPTURE", "trial" if env("SMTP_HOST") else "all")
if KEIYAKU_MAIL_CAPTURE not in {"trial", "all"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured('KEIYAKU_MAIL_CAPTURE must be "trial" or "all"')

# --- background work, shared counters and caches (R41): the queue, Redis ---------------------
# KEIYAKU_REDIS_URL (redis://[:password@]host:port/db, rediss://… for TLS, or
# unix:///path/to/redis.sock?db=N; Valkey is a drop-in): the queue is RedisHuey, Django's cache
# and the rate limits live there. Unset: the SQLite queue file in DATA_DIR, the rate limits in
# the database. Parsed by redis-py, which Huey and Django's cache use to connect.
KEIYAKU_REDIS_URL = env("REDIS_URL").strip()
if KEIYAKU_REDIS_URL:
    from urllib.parse import urlsplit

    from django.core.exceptions import ImproperlyConfigured
    from redis.connection import parse_url as _parse_redis_url

    from keiyaku.ascii_digits import is_ascii_digits

    try:
        _redis = _parse_redis_url(KEIYAKU_REDIS_URL)
        if not (_redis.get("path") or _redis.get("host")):
            raise ValueError("no host and no socket path")
        _db = urlsplit(KEIYAKU_REDIS_URL).path.strip("/")
        if "host" in _redis and _db and not is_ascii_digits(_db):  # redis-py ignores it silently
            raise ValueError(f"the database number {_db!r} is not a number")
    except ValueError as _error:
        raise ImproperlyConfigured(
            "KEIYAKU_REDIS_URL must look like redis://host:6379/0, rediss://host:6380/0 or "
            f"unix:///run/redis/redis.sock?db=0 ({_error})"
        ) from None
# Worker threads per consumer process (`keiyaku run_huey`); run several consumers to scale out.
KEIYAKU_QUEUE_WORKERS = env_int("QUEUE_WORKERS", 2)
# A contract's jobs hold its lease (keiyaku.jobs.leases); a consumer killed mid-job keeps the
# contract at most this long (seconds) before another consumer or the sweeper may continue.
KEIYAKU_JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 30)
# SIGTERM (systemd's stop, `keiyaku serve` stopping) lets a consumer finish the jobs in hand;
# a second signal or SIGKILL stops it at once (its jobs are then found by the sweeper).
_CONSUMER: dict[str, object] = {
    "workers": KEIYAKU_QUEUE_WORKERS,
    "worker_type": "thread",
    "graceful_signal": "TERM",
}
# --- job pick-up (issue 12): within 100 ms of being queued, however long the queue was idle ---
# Redis: each worker thread waits in a blocking pop (BRPOP), woken by the job itself; it returns
# empty after a second to notice a stop. SQLite: a queue file cannot wake
# anybody, so each worker thread looks every KEIYAKU_QUEUE_POLL_MS (one indexed read of the
# file), without Huey's default back-off, which stretched the pause to 10 s after a quiet
# minute (the last agreement took 3.4 s to complete for 0.4 s of work).
KEIYAKU_QUEUE_POLL_MS = env_int("QUEUE_POLL_MS", 50)
if not KEIYAKU_REDIS_URL:
    _CONSUMER |= {
        "initial_delay": KEIYAKU_QUEUE_POLL_MS / 1000,
        "backoff": 1.0,
        "max_delay": KEIYAKU_QUEUE_POLL_MS / 1000,
    }
HUEY: dict[str, object]
if KEIYAKU_REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "keiyaku",
        "url": KEIYAKU_REDIS_URL,
        "blocking": True,  # BRPOP: see "job pick-up" above
        "read_timeout": 1,
        "immediate": env_bool("TASKS_IMMEDIATE", False),
        "consumer": _CONSUMER,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": KEIYAKU_REDIS_URL,
            "KEY_PREFIX": "keiyaku-cache",
        }
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "keiyaku",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": env_bool("TASKS_IMMEDIATE", False),
        "consumer": _CONSUMER,
    }
    # Per process: keiyaku keeps nothing in Django's cache that processes must share (the rate
    # limits and leases are in the database; page images stay in each process on purpose).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- web server, static files, configuration checks, health and logs (keiyaku.operations) -----
# "embedded" (the default: one machine, secrets generated in the data folder) or "production"
# (`keiyaku serve` then refuses to start unless `keiyaku check --deploy` passes).
KEIYAKU_ENV = env("ENV", "embedded")
if KEIYAKU_ENV not in {"embedded", "production"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured('KEIYAKU_ENV must be "embedded" or "production"')
# Secrets that were not given in the environment but generated in the data folder: right for one
# machine, wrong for several (each would make its own) — a deploy check refuses them.
KEIYAKU_GENERATED_SECRETS = [name for name in ("SECRET_KEY", "MASTER_KEY") if not env(name)]
# gunicorn under `keiyaku serve`: worker processes (default: one per CPU, at least 2), threads
# in each, and the seconds a request may take before its worker is replaced.
KEIYAKU_WEB_WORKERS = env_int("WEB_WORKERS", max(2, os.cpu_count() or 1))
KEIYAKU_WEB_THREADS = env_int("WEB_THREADS", 4)
KEIYAKU_WEB_TIMEOUT = env_int("WEB_TIMEOUT", 300)
# /readyz: seconds allowed to reach each time-stamp authority; days before a certificate's end
# from which readiness warns.
KEIYAKU_HEALTH_TSA_TIMEOUT = float(env("HEALTH_TSA_TIMEOUT", "2"))
KEIYAKU_HEALTH_CERT_WARN_DAYS = env_int("HEALTH_CERT_WARN_DAYS", 90)
# Behind a trusted TLS proxy, plain-HTTP requests are redirected to https, except the probes
# of the load balancer, which speak plain HTTP to each web process.
SECURE_SSL_REDIRECT = PUBLIC_URL.startswith("https://") and bool(KEIYAKU_TRUSTED_PROXIES)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# HSTS covers the service's own host only: a municipality cannot promise https for every
# subdomain of its domain, nor put that domain on the browsers' preload list.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
# WhiteNoise serves the hashed, compressed copies that `collectstatic` writes to STATIC_ROOT
# (`keiyaku serve` runs it when the sources changed). Only the "staticfiles" entry is set here;
# "default" (the object storage, KEIYAKU_STORAGE_URL) is the stored-objects block's.
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
WHITENOISE_MAX_AGE = 3600  # unhashed names; hashed ones are cached for good
# Log lines: "text" for a terminal, "json" (one object a line) for a log collector. Every line
# written while a request is handled carries its request id (keiyaku.operations.request_id).
KEIYAKU_LOG_FORMAT = env("LOG_FORMAT", "text")
if KEIYAKU_LOG_FORMAT not in {"text", "json"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured('KEIYAKU_LOG_FORMAT must be "text" or "json"')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "keiyaku.operations.request_id.RequestIdFilter"},
        "hide_paths": {"()": "keiyaku.operations.log_format.HidePathsFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "keiyaku.operations.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "hide_paths"],
            "formatter": KEIYAKU_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "pyhanko": {"level": "ERROR"},
        "pyhanko_certvalidator": {"level": "ERROR"},
        # Huey's consumer adds a handler of its own to a "huey" logger that has none.
        "huey": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO"), "propagate": False},
        # pikepdf announces "C++ to Python logger bridge initialized" at INFO in every process
        # that imports it (issue 14): its warnings and errors only.
        "pikepdf": {"level": "WARNING"},
    },
}

# --- backups (R42) ---------------------------------------------------------------------------
# The daily backup (keiyaku.storage.tasks) writes a generation here when set; `keiyaku backup
# DEST` writes one on demand. Generations kept (the newest); the job's hour (UTC, as Huey's
# periodic jobs).
KEIYAKU_BACKUP_DIR = env("BACKUP_DIR")
KEIYAKU_BACKUP_KEEP = env_int("BACKUP_KEEP", 8)
KEIYAKU_BACKUP_HOUR = env_int("BACKUP_HOUR", 2)

# --- staff contract list (issue 12) ----------------------------------------------------------
# Rows per page of 「案件一覧」 (keyset pages, keiyaku.contracts.list_page); 1 to 500.
KEIYAKU_CONTRACT_LIST_PAGE_SIZE = min(500, max(1, env_int("CONTRACT_LIST_PAGE_SIZE", 50)))

# --- archival renewal (R21; keiyaku.contracts.services.renewal) --------------------------------
# A completed document's newest document timestamp is renewed this many days before its TSA
# certificate expires, and as soon as the policy retires an algorithm it uses: entries
# "<algorithm> after <YYYY-MM-DD>" separated by commas, e.g. "sha256 after 2040-01-01, rsa2048
# after 2035-01-01" (keiyaku.signing.archive). A malformed policy stops keiyaku at start. Each
# hourly run renews at most RENEWAL_BATCH documents, most urgent first; each document's turn is
# moved earlier by a random part of RENEWAL_SPREAD_DAYS, so that the documents stamped under
# one certificate are not all renewed in the same hour.
KEIYAKU_RENEWAL_MARGIN_DAYS = env_int("RENEWAL_MARGIN_DAYS", 365)
KEIYAKU_RENEWAL_BATCH = env_int("RENEWAL_BATCH", 200)
KEIYAKU_RENEWAL_SPREAD_DAYS = env_int("RENEWAL_SPREAD_DAYS", 60)


def _renewal_policy(text: str) -> tuple[Any, ...]:
    from django.core.exceptions import ImproperlyConfigured

    from keiyaku.signing.archive import parse_retirements

    try:
        return parse_retirements(text)
    except ValueError as error:
        raise ImproperlyConfigured(f"KEIYAKU_RENEWAL_POLICY: {error}") from None


KEIYAKU_RENEWAL_POLICY = _renewal_policy(env("RENEWAL_POLICY"))
