"""`keiyaku check --deploy` asks the S3 bucket whether it keeps objects write-once."""

from __future__ import annotations

import pytest

from keiyaku.storage.checks import object_storage_is_write_once
from keiyaku.storage.location import parse_storage_url


def _use(settings, s3_server, bucket: str) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": parse_storage_url(
            s3_server.storage_url(bucket, "keiyaku"),
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
        ),
    }


def ids(messages) -> list[str]:
    return sorted(m.id for m in messages)


def test_a_plain_bucket_is_warned_about(settings, s3_server):
    _use(settings, s3_server, s3_server.create_bucket())
    assert ids(object_storage_is_write_once()) == ["storage.W001", "storage.W002"]


def test_a_bucket_with_object_lock_passes(settings, s3_server):
    _use(settings, s3_server, s3_server.create_bucket(object_lock=True))
    assert object_storage_is_write_once() == []


def test_a_versioned_bucket_without_lock_gets_one_warning(settings, s3_server):
    bucket = s3_server.create_bucket()
    s3_server.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    _use(settings, s3_server, bucket)
    assert ids(object_storage_is_write_once()) == ["storage.W002"]


def test_a_missing_bucket_is_an_error_without_secrets(settings, s3_server):
    _use(settings, s3_server, "no-such-bucket-here")
    messages = object_storage_is_write_once()
    assert ids(messages) == ["storage.E001"]
    assert s3_server.secret_key not in messages[0].msg


def test_a_folder_needs_no_check(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": parse_storage_url(tmp_path.as_uri())}
    assert object_storage_is_write_once() == []


def test_ping_tells_a_missing_bucket_from_a_missing_key(settings, s3_server, tmp_path):
    from botocore.exceptions import ClientError
    from django.core.files.storage import default_storage

    from keiyaku.storage.checks import object_storage_ping

    _use(settings, s3_server, s3_server.create_bucket())
    object_storage_ping()
    _use(settings, s3_server, "no-such-bucket-here")
    assert default_storage.exists("anything") is False  # no help to a readiness probe
    with pytest.raises(ClientError):
        object_storage_ping()
    settings.STORAGES = {**settings.STORAGES, "default": parse_storage_url(tmp_path.as_uri())}
    object_storage_ping()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": parse_storage_url((tmp_path / "absent").as_uri()),
    }
    with pytest.raises(OSError, match="missing or not writable"):
        object_storage_ping()
