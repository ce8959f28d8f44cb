"""One settings module, configured by KEIYAKU_* environment variables.

Defaults give the embedded set-up: SQLite, local encrypted files, the local PKI and timestamp
authority, and e-mail captured in the mailbox page.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

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
    "keiyaku.ratelimits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "keiyaku.web.upload_names.UploadNamesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "keiyaku.login.middleware.SignInPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "keiyaku.web.middleware.ContentSecurityPolicyMiddleware",
    "keiyaku.accounts.middleware.IpAllowListMiddleware",
]

ROOT_URLCONF = "keiyaku.urls"
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
            ],
        },
    }
]

DATABASES: dict[str, dict[str, object]]
_db_url = env("DATABASE_URL")
if _db_url.startswith("postgres"):
    from urllib.parse import urlparse

    _u = urlparse(_db_url)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _u.path.lstrip("/"),
            "USER": _u.username or "",
            "PASSWORD": _u.password or "",
            "HOST": _u.hostname or "",
            "PORT": str(_u.port or ""),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "keiyaku.sqlite3",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.Staff"
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
# Largest staff CSV accepted (R35).
KEIYAKU_STAFF_CSV_MAX_BYTES = env_int("STAFF_CSV_MAX_KB", 5 * 1024) * 1024

# Uploads: Django keeps files above this size on disk while the request is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 60 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- keiyaku limits (R5), all settings ---------------------------------------------------------
KEIYAKU_MAX_FILES = env_int("MAX_FILES", 5)
KEIYAKU_MAX_FILE_BYTES = env_int("MAX_FILE_MB", 20) * 1024 * 1024
KEIYAKU_MAX_CONTRACT_BYTES = env_int("MAX_CONTRACT_MB", 50) * 1024 * 1024
KEIYAKU_MAX_PARTIES = env_int("MAX_PARTIES", 100)
# Pixels in one page image; a larger page is drawn smaller instead (issue 10, finding 4).
KEIYAKU_MAX_RENDER_PIXELS = env_int("MAX_RENDER_PIXELS", 12_000_000)
# How often one signing request may be forwarded (R17); forwarded rows count as parties.
KEIYAKU_MAX_FORWARDS = env_int("MAX_FORWARDS", 3)
KEIYAKU_ACCESS_CODE_ATTEMPTS = env_int("ACCESS_CODE_ATTEMPTS", 5)
KEIYAKU_SIGN_LINK_DAYS = env_int("SIGN_LINK_DAYS", 14)
KEIYAKU_DOWNLOAD_LINK_DAYS = env_int("DOWNLOAD_LINK_DAYS", 14)
# The online application (電子契約利用申出書, R14): how long its link stays usable.
KEIYAKU_APPLICATION_LINK_DAYS = env_int("APPLICATION_LINK_DAYS", 14)
KEIYAKU_DEADLINE_DAYS = env_int("DEADLINE_DAYS", 7)  # default signing deadline (R11)
KEIYAKU_REMIND_DAYS_BEFORE = env_int("REMIND_DAYS_BEFORE", 1)  # automatic reminder (R11)
KEIYAKU_ATTACH_LIMIT_BYTES = env_int("ATTACH_LIMIT_KB", 6 * 1024) * 1024

# --- signing and PKI (R26) -------------------------------------------------------------------
KEIYAKU_PKI_DIR = Path(env("PKI_DIR", str(DATA_DIR / "pki")))
# Time-stamp authorities tried in order; the default is keiyaku's own endpoint.
KEIYAKU_TSA_URLS = [u for u in env("TSA_URLS", f"{PUBLIC_URL}/pki/tsa").split(",") if u]
# /pki/tsa answers anyone only when open; closed, keiyaku's own processes (pki/tsa_access.py).
KEIYAKU_TSA_PUBLIC = env_bool("TSA_PUBLIC", False)
KEIYAKU_SIGNER_PKCS12 = env("SIGNER_PKCS12")
KEIYAKU_SIGNER_PKCS12_PASSWORD = env("SIGNER_PKCS12_PASSWORD")

# Agreements older than this whose signature job has not run are finished by the sweeper.
KEIYAKU_SWEEP_AFTER_SECONDS = env_int("SWEEP_AFTER_SECONDS", 120)

# Every PDF validation (ingest proof, `keiyaku verify`, the public page, finalising) runs in a
# child process under this budget (keiyaku.signing.budget); the ingest proof gets a quarter of
# the time. A 17-party contract verifies in a few seconds.
KEIYAKU_VALIDATION_SECONDS = env_int("VALIDATION_SECONDS", 120)
KEIYAKU_VALIDATION_MEMORY_MB = env_int("VALIDATION_MEMORY_MB", 2048)

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
# Calls to URLs an organisation sets (its OpenID provider) never go to loopback, private,
# link-local or metadata addresses, except those the operator lists here: comma-separated
# addresses, CIDR ranges or host names (e.g. an identity provider on the internal network).
KEIYAKU_OUTBOUND_ALLOW = [a.strip() for a in env("OUTBOUND_ALLOW").split(",") if a.strip()]
# Largest answer read from such a call.
KEIYAKU_OUTBOUND_MAX_KB = env_int("OUTBOUND_MAX_KB", 1024)

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

# --- background work (R41) -------------------------------------------------------------------
HUEY: dict[str, object]
if env("REDIS_URL"):
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "keiyaku",
        "url": env("REDIS_URL"),
        "immediate": False,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "keiyaku",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": env_bool("TASKS_IMMEDIATE", False),
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"pyhanko": {"level": "ERROR"}, "pyhanko_certvalidator": {"level": "ERROR"}},
}

# --- backups (R42) ---------------------------------------------------------------------------
# The daily backup (keiyaku.storage.tasks) writes a generation here when set; `keiyaku backup
# DEST` writes one on demand. Generations kept (the newest); the job's hour (UTC, as Huey's
# periodic jobs).
KEIYAKU_BACKUP_DIR = env("BACKUP_DIR")
KEIYAKU_BACKUP_KEEP = env_int("BACKUP_KEEP", 8)
KEIYAKU_BACKUP_HOUR = env_int("BACKUP_HOUR", 2)
