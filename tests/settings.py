"""Test settings: keiyaku's own settings with a throw-away data folder and inline jobs.

KEIYAKU_TEST_DATABASE chooses the database the suite runs on (`make test` runs it on both):
"sqlite" (default) the embedded SQLite file; "postgres" a private PostgreSQL cluster, the one
KEIYAKU_DATABASE_URL names or else one started for this run (tests/servers/postgres.py).
pytest-django gives each xdist worker its own test database on either.
"""

import os
import tempfile

os.environ.setdefault("KEIYAKU_DATA_DIR", tempfile.mkdtemp(prefix="keiyaku-test-"))
os.environ.setdefault("KEIYAKU_TASKS_IMMEDIATE", "1")
os.environ.pop("KEIYAKU_SMTP_HOST", None)

TEST_DATABASE = os.environ.setdefault("KEIYAKU_TEST_DATABASE", "sqlite")
if TEST_DATABASE == "postgres":
    if not os.environ.get("KEIYAKU_DATABASE_URL", "").startswith("postgres"):
        from tests.servers.postgres import server_for_test_run

        # In the environment, so that xdist workers and the processes tests start share it.
        os.environ["KEIYAKU_DATABASE_URL"] = server_for_test_run()
elif TEST_DATABASE == "sqlite":
    os.environ.pop("KEIYAKU_DATABASE_URL", None)
else:
    raise RuntimeError(f'KEIYAKU_TEST_DATABASE is "sqlite" or "postgres", not {TEST_DATABASE!r}')

# KEIYAKU_TEST_STORAGE=s3: the whole run keeps its objects in a bucket on an S3 test server that
# lives as long as this process (tests/servers/s3.py); processes the tests start inherit it.
if os.environ.get("KEIYAKU_TEST_STORAGE") == "s3" and not os.environ.get("KEIYAKU_STORAGE_URL"):
    import atexit

    from tests.servers.s3 import start_s3_server

    _s3, _stop_s3 = start_s3_server()
    atexit.register(_stop_s3)
    os.environ.update(_s3.environ(_s3.create_bucket(), "keiyaku"))

from keiyaku.settings import *  # noqa: E402,F403

# Each xdist worker has a queue file of its own, and so do the consumers its tests start (they
# inherit PYTEST_XDIST_WORKER): the data folder is shared by the run, and a consumer started by
# one worker's test took jobs another worker's test had queued and counted.
if HUEY.get("huey_class") == "huey.SqliteHuey" and os.environ.get("PYTEST_XDIST_WORKER"):  # noqa: F405
    HUEY["filename"] = str(DATA_DIR / f"huey-{os.environ['PYTEST_XDIST_WORKER']}.sqlite3")  # noqa: F405

# Hashing is not what the tests measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if TEST_DATABASE == "sqlite":
    # A worker process started by a test shares the test database (a file, so both can open it).
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
# A process started by a test (tests/web_process.py) opens the test database of the test.
if os.environ.get("KEIYAKU_TEST_DB"):
    DATABASES["default"]["NAME"] = os.environ["KEIYAKU_TEST_DB"]  # noqa: F405

# The manifest storage needs `collectstatic` first (keiyaku serve runs it); the tests' servers
# serve the sources as they are.
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405 - WhiteNoise warns about a missing one
