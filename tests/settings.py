"""Test settings: keiyaku's own settings with a throw-away data folder and inline jobs."""

import os
import tempfile

os.environ.setdefault("KEIYAKU_DATA_DIR", tempfile.mkdtemp(prefix="keiyaku-test-"))
os.environ.setdefault("KEIYAKU_TASKS_IMMEDIATE", "1")
os.environ.pop("KEIYAKU_SMTP_HOST", None)

from keiyaku.settings import *  # noqa: E402,F403

# Hashing is not what the tests measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A worker process started by a test shares the test database (a file, so both can open it).
DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
if os.environ.get("KEIYAKU_TEST_DB"):
    DATABASES["default"]["NAME"] = os.environ["KEIYAKU_TEST_DB"]  # noqa: F405

# The manifest storage needs `collectstatic` first (keiyaku serve runs it); the tests' servers
# serve the sources as they are.
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405 - WhiteNoise warns about a missing one
