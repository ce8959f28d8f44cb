"""The `installation` fixture: keiyaku as production runs it, started from outside (cluster.py).

The installation's database is this test's own database on the suite's PostgreSQL cluster
(pytest-django's test database, one per xdist worker), so the test reads what the processes
wrote through the ORM; its objects are in a fresh versioned bucket on the S3 test server, its
queue on the session's private Redis (emptied first), its mail goes to an aiosmtpd relay in
this process. On the SQLite run of the suite these tests are skipped: they are about
PostgreSQL's row locks shared by many processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from tests.production_cluster.cluster import MAIL_FROM, Cluster, running_cluster
from tests.servers.s3 import S3Server

BUCKET_PREFIX = "keiyaku"
# Shorter than the defaults (30 s, 120 s) so that work a kill -9 left behind is taken up within
# the test's minutes: a dead holder's contract lease ends after 10 s, and the sweeper takes up
# work that waited 15 s.
RECOVERY = {"KEIYAKU_JOB_LEASE_SECONDS": "10", "KEIYAKU_SWEEP_AFTER_SECONDS": "15"}


@dataclass(frozen=True)
class Installation:
    cluster: Cluster
    s3: S3Server
    bucket: str

    def object_versions(self) -> dict[str, int]:
        """Every key of the bucket with the number of versions it ever had (delete markers
        count as versions: a deleted key that was put again shows 3)."""
        client = self.s3.client()
        versions: dict[str, int] = {}
        for page in client.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                versions[item["Key"]] = versions.get(item["Key"], 0) + 1
        return versions


def database_url() -> str:
    """KEIYAKU_DATABASE_URL of this test's database on the suite's PostgreSQL cluster."""
    db: dict[str, Any] = connection.settings_dict
    host = quote(str(db["HOST"]), safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{quote(db['USER'])}@{host}{port}/{db['NAME']}"


@pytest.fixture
def installation(
    request: pytest.FixtureRequest,
    settings,
    redis_url: str,
    s3_server: S3Server,
    keiyaku_tsa_url: str,
) -> Iterator[Installation]:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the production cluster runs on PostgreSQL: this test runs in the suite's PostgreSQL "
            "run (make test-postgres)"
        )
    from keiyaku.pki.service import get_authority
    from keiyaku.storage.location import parse_storage_url

    get_authority()  # created once here, not raced for by the processes
    bucket = s3_server.create_bucket()
    s3_server.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    storage = s3_server.environ(bucket, BUCKET_PREFIX)
    # This process names the outbox's messages as the installation does (outbox_message_id).
    settings.DEFAULT_FROM_EMAIL = MAIL_FROM
    # This process reads the final PDFs from the same bucket, with the same master key.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": parse_storage_url(
            storage["KEIYAKU_STORAGE_URL"],
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
        ),
    }
    with running_cluster(
        database_url=database_url(),
        redis_url=redis_url,
        storage=storage,
        tsa_url=keiyaku_tsa_url,
        master_key=settings.MASTER_KEY,
        secret_key=settings.SECRET_KEY,
        pki_dir=Path(settings.KEIYAKU_PKI_DIR),
        **RECOVERY,
    ) as cluster:
        failed_before = request.session.testsfailed
        yield Installation(cluster=cluster, s3=s3_server, bucket=bucket)
        # A failed test keeps the web and consumer logs (their tracebacks say why).
        cluster.keep_logs = request.session.testsfailed > failed_before
