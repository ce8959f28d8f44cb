"""/healthz and /readyz: per-check JSON, 200 or 503, before sign-in, no secrets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from huey import SqliteHuey

from keiyaku.signing import keys

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once it is closed


def test_healthz_answers_without_the_database_and_whatever_the_host():
    client = Client(HTTP_HOST="10.0.3.7:8000")  # a load balancer probing by address
    with CaptureQueriesContext(connection) as queries:
        answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert len(queries) == 0
    assert answer["Cache-Control"] == "no-store" and answer["X-Request-ID"]


def test_readyz_reports_every_component_and_leaks_nothing(keiyaku_tsa_url):
    answer = Client(HTTP_HOST="10.0.3.7:8000").get("/readyz")
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "ok", body
    assert set(body["checks"]) == {
        "database",
        "storage",
        "queue",
        "tsa",
        "signing_key",
        "certificates",
    }
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["queue"]["pending"] == 0
    assert body["checks"]["tsa"] == {**body["checks"]["tsa"], "reachable": 1, "configured": 1}
    assert body["checks"]["certificates"]["days_left"]["signer"] > 90
    text = answer.content.decode()
    for secret in (
        django_settings.MASTER_KEY,
        django_settings.SECRET_KEY,
        str(django_settings.DATA_DIR),
        keiyaku_tsa_url,
        "127.0.0.1",
    ):
        assert secret not in text


def test_an_unreachable_tsa_warns_but_stays_ready(settings):
    settings.KEIYAKU_TSA_URLS = [f"http://127.0.0.1:{closed_port()}/tsa"]
    answer = Client().get("/readyz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "warn" and body["checks"]["tsa"]["status"] == "warn"
    assert body["checks"]["tsa"]["reachable"] == 0


def test_a_certificate_ending_within_the_warning_window_warns(settings, keiyaku_tsa_url):
    settings.KEIYAKU_HEALTH_CERT_WARN_DAYS = 100 * 365  # longer than any certificate here
    body = Client().get("/readyz").json()
    assert body["checks"]["certificates"]["status"] == "warn"
    assert body["status"] == "warn"


def test_a_queue_that_cannot_be_reached_fails_readiness(monkeypatch, tmp_path: Path):
    from huey.contrib import djhuey

    # A real Huey whose database file is damaged after it was opened.
    path = tmp_path / "huey.sqlite3"
    broken = SqliteHuey("keiyaku", filename=str(path))
    broken.storage.close()
    path.write_bytes(b"not a database" * 512)
    monkeypatch.setattr(djhuey, "HUEY", broken)
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "fail"
    assert body["checks"]["queue"] == {**body["checks"]["queue"], "status": "fail"}
    assert body["checks"]["queue"]["detail"] == "DatabaseError"
    assert body["checks"]["database"]["status"] == "ok"


def test_a_signing_key_that_cannot_be_loaded_fails_readiness(settings, tmp_path: Path):
    damaged = tmp_path / "signer.p12"
    damaged.write_bytes(b"not a PKCS#12 file")
    settings.KEIYAKU_SIGNER_PKCS12 = str(damaged)
    keys.get_service_signer.cache_clear()
    try:
        answer = Client().get("/readyz")
    finally:
        settings.KEIYAKU_SIGNER_PKCS12 = ""
        keys.get_service_signer.cache_clear()
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["signing_key"]["status"] == "fail"
    assert checks["certificates"]["status"] == "fail"
    assert str(damaged) not in answer.content.decode()


def test_a_storage_folder_that_cannot_be_written_fails_readiness(settings, tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage folder should be")
    blocker.chmod(0o400)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "files")},
        },
    }
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["storage"] == {
        **answer.json()["checks"]["storage"],
        "status": "fail",
        "detail": "folder not writable",
    }


def test_readyz_is_not_behind_login_nor_the_ip_allow_list(personas, keiyaku_tsa_url):
    personas.org.ip_allowlist = "192.0.2.0/24"
    personas.org.save()
    client = Client(REMOTE_ADDR="198.51.100.9")
    client.force_login(personas.sender)
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 403  # the staff screens are refused from there


def _s3_storage(settings, s3_server, bucket: str) -> None:
    from keiyaku.storage.location import parse_storage_url

    settings.STORAGES = {
        **settings.STORAGES,
        "default": parse_storage_url(
            s3_server.storage_url(bucket, "keiyaku"),
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
        ),
    }


def test_readiness_asks_the_s3_bucket(settings, s3_server):
    """A missing bucket answers a key lookup as a missing key would: readiness asks the bucket
    itself (HeadBucket), and the key prefix is no local folder to look at."""
    _s3_storage(settings, s3_server, s3_server.create_bucket())
    assert Client().get("/readyz").json()["checks"]["storage"]["status"] == "ok"
    _s3_storage(settings, s3_server, "no-such-bucket-here")
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["storage"] == {
        **answer.json()["checks"]["storage"],
        "status": "fail",
        "detail": "ClientError",
    }
    assert "no-such-bucket-here" not in answer.content.decode()


def test_a_new_installation_has_its_storage_folder_before_the_first_file(tmp_path: Path):
    """The embedded default folder exists from the first start, so /readyz passes before any
    contract; a folder named in KEIYAKU_STORAGE_URL is never created (a volume not mounted)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("KEIYAKU_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    for data_dir, extra in (
        (tmp_path / "embedded", {}),
        (tmp_path / "named", {"KEIYAKU_STORAGE_URL": (tmp_path / "volume").as_uri()}),
    ):
        subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "keiyaku.cli", "check"],
            env={**env, "KEIYAKU_DATA_DIR": str(data_dir), **extra},
            check=True,
            capture_output=True,
            timeout=120,
        )
    assert (tmp_path / "embedded" / "files").is_dir()
    assert not (tmp_path / "named" / "files").exists()
    assert not (tmp_path / "volume").exists()
