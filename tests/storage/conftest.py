"""Each storage test runs on both back ends: a local folder and the S3 test server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Store:
    """The object storage of one test, and a way around keiyaku to see and alter what it holds."""

    kind: str
    folder: Path | None = None
    bucket: object = None  # tests.conftest.S3Bucket

    def raw(self, name: str) -> bytes:
        """The bytes at rest under storage name ``name``, read without keiyaku."""
        if self.folder is not None:
            return (self.folder / name).read_bytes()
        return self.bucket.raw(name)  # type: ignore[attr-defined]

    def tamper(self, name: str, data: bytes) -> None:
        """Replace the object as somebody with direct access to the disk or bucket could."""
        if self.folder is not None:
            (self.folder / name).write_bytes(data)
            return
        bucket = self.bucket
        bucket.server.client().put_object(  # type: ignore[attr-defined]
            Bucket=bucket.bucket,  # type: ignore[attr-defined]
            Key=bucket.key(name),  # type: ignore[attr-defined]
            Body=data,
        )


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, settings, tmp_path: Path) -> Store:
    from keiyaku.storage.location import parse_storage_url

    if request.param == "file":
        folder = tmp_path / "objects"
        settings.STORAGES = {**settings.STORAGES, "default": parse_storage_url(folder.as_uri())}
        return Store("file", folder=folder)
    return Store("s3", bucket=request.getfixturevalue("s3_storage"))
