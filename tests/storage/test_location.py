"""KEIYAKU_STORAGE_URL: what each form configures, and the mistakes refused at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from keiyaku.storage.location import FILE_BACKEND, S3_BACKEND, parse_storage_url

ROOT = Path(__file__).resolve().parents[2]


def test_a_folder():
    assert parse_storage_url("file:///var/keiyaku/blobs") == {
        "BACKEND": FILE_BACKEND,
        "OPTIONS": {"location": "/var/keiyaku/blobs"},
    }


def test_a_bucket_with_prefix_endpoint_and_region():
    entry = parse_storage_url(
        "s3://keiyaku-blobs/city/prod/?endpoint_url=https://rgw.example.jp:7480&region=jp-east",
        access_key="AKIA-TEST",
        secret_key="secret",
    )
    assert entry["BACKEND"] == S3_BACKEND
    options = entry["OPTIONS"]
    assert isinstance(options, dict)
    assert options["bucket_name"] == "keiyaku-blobs"
    assert options["location"] == "city/prod"
    assert options["endpoint_url"] == "https://rgw.example.jp:7480"
    assert options["region_name"] == "jp-east"
    assert options["addressing_style"] == "path"  # a self-hosted endpoint
    assert options["write_check"] == "conditional"
    assert (options["access_key"], options["secret_key"]) == ("AKIA-TEST", "secret")


def test_aws_defaults():
    options = parse_storage_url("s3://keiyaku-blobs")["OPTIONS"]
    assert isinstance(options, dict)
    assert options["location"] == "" and options["endpoint_url"] is None
    assert options["addressing_style"] == "auto"
    # No KEIYAKU_S3_* keys: boto3's own chain (AWS_ACCESS_KEY_ID, profile, instance role).
    assert options["access_key"] is None and options["secret_key"] is None


def test_head_then_put_and_tls_options():
    options = parse_storage_url(
        "s3://b-1.example?endpoint_url=https://s3.local&write_check=head&verify=/etc/ca.pem"
    )["OPTIONS"]
    assert isinstance(options, dict)
    assert options["write_check"] == "head" and options["verify"] == "/etc/ca.pem"
    assert parse_storage_url("s3://bucket?verify=0")["OPTIONS"]["verify"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://AKIA:secret@bucket", "credentials do not belong in the URL"),
        ("s3://bucket?endpoint_url=https://k:s@rgw.example", "credentials do not belong"),
        ("ftp://host/folder", "unknown scheme"),
        ("/var/keiyaku/files", "unknown scheme"),
        ("file://relative/folder", "absolute path"),
        ("file:///var/x?mode=1", "takes no parameters"),
        ("s3://", "is not a bucket name"),
        ("s3://Upper_Case", "is not a bucket name"),
        ("s3://bucket/a/../b", "may not contain"),
        ("s3://bucket?region=a&region=b", "given twice"),
        ("s3://bucket?endpoint=https://x", "unknown parameter 'endpoint'"),
        ("s3://bucket?endpoint_url=rgw.example:7480", "endpoint_url must be"),
        ("s3://bucket?write_check=none", "write_check must be"),
        ("s3://bucket?addressing_style=dns", "addressing_style must be"),
    ],
)
def test_mistakes_are_refused(url, says):
    with pytest.raises(ImproperlyConfigured, match="KEIYAKU_STORAGE_URL") as refused:
        parse_storage_url(url)
    assert says in str(refused.value)
    assert "secret" not in str(refused.value).replace("SECRET", "")


def test_half_a_key_pair_is_refused():
    with pytest.raises(ImproperlyConfigured, match="go together"):
        parse_storage_url("s3://bucket", access_key="AKIA-TEST")


def test_a_wrong_url_stops_keiyaku_at_start(tmp_path):
    """settings.py parses the URL while it loads: `keiyaku check` fails with the message."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
        "KEIYAKU_DATA_DIR": str(tmp_path),
        "KEIYAKU_STORAGE_URL": "s3://AKIA:wJalrXUtnFEMI@bucket",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "django", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "credentials do not belong in the URL" in done.stderr
    assert "wJalrXUtnFEMI" not in done.stderr + done.stdout
