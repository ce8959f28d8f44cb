"""`keiyaku check --deploy`: is the object storage reachable and write-once? (issue 11)

For S3 it asks the bucket, and writes two small probe objects under ``_keiyaku/write-check/``:

- storage.E001: the bucket cannot be reached (no such bucket, access denied, wrong endpoint).
- storage.E002: the server stored a second put to an existing key although it carried
  ``If-None-Match: *``: it ignores conditional puts; set ``write_check=head`` in
  KEIYAKU_STORAGE_URL (or use a server that supports them).
- storage.W001: bucket versioning is off: an object overwritten or deleted by somebody with the
  bucket's keys is gone for good.
- storage.W002: Object Lock is not enabled on the bucket: versions can still be deleted. Only a
  bucket created with Object Lock has it (AWS S3, Ceph RGW); SeaweedFS and Garage do not offer it.

The probe objects stay (an Object Lock bucket would refuse to delete them anyway); they are a
few bytes each, written only when the check runs.
"""

from __future__ import annotations

import io
import os
import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core import checks
from django.core.files.storage import storages

from keiyaku.storage.backends import ObjectExists, WriteOnceS3Storage

PROBE_PREFIX = "_keiyaku/write-check/"


def object_storage_ping() -> None:
    """Raise when the object storage cannot be used right now; return None when it can.

    For readiness probes: S3 ``HeadBucket`` (one request; ``exists()`` of a key is no test, a
    missing bucket answers 404 as a missing key does), a folder must exist and be writable.
    Raises botocore's ClientError/BotoCoreError or OSError; their text holds no credentials.
    """
    storage = storages["default"]
    if isinstance(storage, WriteOnceS3Storage):
        storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
        return
    location = getattr(storage, "location", "")
    if not location or not os.path.isdir(location) or not os.access(location, os.W_OK):
        raise OSError(f"the storage folder {location!r} is missing or not writable")


@checks.register("storage", deploy=True)
def object_storage_is_write_once(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The messages above for STORAGES["default"]; none for a local folder (it refuses a second
    put with link(2), which every POSIX file system enforces)."""
    storage = storages["default"]
    if not isinstance(storage, WriteOnceS3Storage):
        return []
    client = storage.connection.meta.client
    bucket = storage.bucket_name
    try:
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status", "")
        lock = _object_lock(client, bucket)
        conditional_honoured = (
            _probe_conditional_put(storage) if storage.write_check == "conditional" else True
        )
    except (ClientError, BotoCoreError) as exc:
        return [
            checks.Error(
                f"the object storage bucket {bucket!r} cannot be used: {exc}",
                hint="check KEIYAKU_STORAGE_URL, the credentials and the bucket policy",
                id="storage.E001",
            )
        ]
    messages: list[checks.CheckMessage] = []
    if not conditional_honoured:
        messages.append(
            checks.Error(
                "the S3 server overwrote an object although the put carried If-None-Match: *",
                hint="add write_check=head to KEIYAKU_STORAGE_URL, or use a server that "
                "supports conditional puts (AWS S3, Ceph RGW)",
                id="storage.E002",
            )
        )
    if versioning != "Enabled":
        messages.append(
            checks.Warning(
                f"versioning is not enabled on bucket {bucket!r}",
                hint="enable it (docs/operations.md, object storage)",
                id="storage.W001",
            )
        )
    if not lock:
        messages.append(
            checks.Warning(
                f"Object Lock is not enabled on bucket {bucket!r}",
                hint="create the bucket with Object Lock where the server offers it "
                "(docs/operations.md, object storage)",
                id="storage.W002",
            )
        )
    return messages


def _object_lock(client: Any, bucket: str) -> bool:
    try:
        answer = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"ObjectLockConfigurationNotFoundError", "NotImplemented", "501"}:
            return False
        raise
    return bool(answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")


def _probe_conditional_put(storage: WriteOnceS3Storage) -> bool:
    """True when a second conditional put to one key is refused."""
    name = f"{PROBE_PREFIX}{uuid.uuid4()}"
    storage.save(name, io.BytesIO(b"first"))
    try:
        storage.save(name, io.BytesIO(b"second"))
    except ObjectExists:
        return True
    return False
