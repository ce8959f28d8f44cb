"""Other keiyaku installations and processes for the backup tests.

`Installation` is a new, empty installation in a folder of its own (its own data folder, SQLite
file or PostgreSQL database, object storage and PKI folder) driven by the `keiyaku` command in
subprocesses with keiyaku's own settings, sharing only the master key. `facts()` reads what a
restore must keep: every document version's SHA-256, every certificate of completion's text,
each contract's state, the audit log's verification. Run as a module (``python -m tests.storage.installation facts``) it prints
them for the installation its settings name.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]


def facts() -> dict[str, Any]:
    """What a backup must carry over, read through the services (decrypting every object),
    with the last line of ``keiyaku audit verify --archives``."""
    from io import StringIO

    import pypdfium2
    from django.conf import settings
    from django.core.management import call_command

    from keiyaku.audit.models import Archive
    from keiyaku.contracts.certificate import certificate_data, certificate_pdf
    from keiyaku.contracts.models import Contract, DocumentVersion
    from keiyaku.contracts.states import ContractStatus
    from keiyaku.storage.blobs import blob_get

    versions = {}
    for version in DocumentVersion.objects.select_related(
        "blob__keyring", "document__contract"
    ).order_by("id"):
        versions[str(version.blob_id)] = [
            version.document.contract.certificate_id,
            version.document.filename,
            version.seq,
            version.kind,
            hashlib.sha256(blob_get(version.blob)).hexdigest(),
        ]
    certificates = {}
    for contract in Contract.objects.filter(status=ContractStatus.COMPLETED):
        pdf = pypdfium2.PdfDocument(certificate_pdf(contract))
        text = "\n".join(page.get_textpage().get_text_range() for page in pdf)
        pdf.close()
        certificates[contract.certificate_id] = [text, repr(certificate_data(contract))]
    out = StringIO()
    call_command("audit", "verify", "--archives", stdout=out)
    data_dir = Path(settings.DATA_DIR)
    return {
        # A storage name (audit-archive/…); an archive written before issue 11 by its path in
        # the data folder, which is the storage name a restore gives it.
        "archives": [
            [
                a.path
                if not Path(a.path).is_absolute()
                else str(Path(a.path).relative_to(data_dir)),
                a.sha256,
            ]
            for a in Archive.objects.all()
        ],
        "audit": out.getvalue().strip().splitlines()[-1],
        "contracts": {c.certificate_id: c.status for c in Contract.objects.all()},
        "versions": versions,
        "certificates": certificates,
    }


def _database_url_for_new_database() -> str:
    """On PostgreSQL runs: a new database on the test server for the other installation."""
    from django.db import connection

    name = f"restore_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    s = connection.settings_dict
    auth = quote(s["USER"], safe="") + (
        f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else ""
    )
    # A socket folder as the host, quoted (libpq takes a host starting with / as a folder).
    host = quote(str(s.get("HOST") or ""), safe="")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{name}"


class Installation:
    """A new keiyaku installation in ``folder``, with the master key of this test run."""

    def __init__(self, folder: Path, **environment: str) -> None:
        from django.conf import settings
        from django.db import connection

        self.data_dir = Path(folder)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("KEIYAKU_") and k != "DJANGO_SETTINGS_MODULE"
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
                "PYTHONPATH": str(REPO),
                "KEIYAKU_DATA_DIR": str(self.data_dir),
                "KEIYAKU_MASTER_KEY": settings.MASTER_KEY,
                "KEIYAKU_TASKS_IMMEDIATE": "1",
                "KEIYAKU_LOG_LEVEL": "WARNING",
            }
        )
        if connection.vendor == "postgresql":
            env["KEIYAKU_DATABASE_URL"] = _database_url_for_new_database()
        env.update(environment)
        self.env = env

    def keiyaku(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "keiyaku.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"keiyaku {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def facts(self) -> dict[str, Any]:
        done = subprocess.run(  # noqa: S603 - our own module
            [sys.executable, "-m", "tests.storage.installation", "facts"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-5000:]
        return json.loads(done.stdout)


if __name__ == "__main__":
    import django

    django.setup()
    if sys.argv[1:] == ["facts"]:
        print(json.dumps(facts(), ensure_ascii=False))  # noqa: T201 - read by the test
