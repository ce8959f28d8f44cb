"""An S3 wire-protocol server for the tests: moto's server mode, in a process of its own on loopback.

Nothing is mocked in the test process: keiyaku's storage talks HTTP to this server with boto3,
exactly as it talks to AWS S3, Ceph RGW or Garage. The server listens on 127.0.0.1 on a port the
kernel picks, prints its address as one JSON line, and exits when its standard input closes, so a
test run that dies (even by kill -9) leaves no server behind.

One fidelity fix: moto checks ``If-None-Match: *`` and then stores, two steps in a threaded
server, where AWS S3 decides a conditional put atomically. The server below lets one writing
request (PUT, POST, DELETE) run at a time, so two puts racing for one key behave as on AWS:
exactly one wins. Reads still run in parallel.

Use it as a context manager (``with running_s3_server() as s3:``), as the session fixture
``s3_server`` (tests/storage/conftest.py), or for a whole test process with
``start_s3_server()`` (tests/settings.py does so when KEIYAKU_TEST_STORAGE=s3).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "keiyaku-test-access"
SECRET_KEY = "keiyaku-test-secret"  # noqa: S105 - the loopback test server accepts any key
REGION = "ap-northeast-1"
_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint and the (test-only) credentials it is called with."""

    endpoint_url: str
    """``http://127.0.0.1:<port>``."""
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    def client(self) -> Any:
        """A boto3 S3 client for this server (path-style addressing)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str = "", *, object_lock: bool = False) -> str:
        """Create a bucket (a fresh random name when ``name`` is empty) and return its name.
        ``object_lock`` creates it with Object Lock enabled (which turns versioning on)."""
        name = name or f"keiyaku-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": self.region},
            ObjectLockEnabledForBucket=object_lock,
        )
        return name

    def storage_url(self, bucket: str, prefix: str = "") -> str:
        """The KEIYAKU_STORAGE_URL of ``bucket`` (and an optional key prefix) on this server."""
        path = f"{bucket}/{prefix}".rstrip("/")
        return f"s3://{path}?endpoint_url={self.endpoint_url}&region={self.region}"

    def environ(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The environment a keiyaku process needs to keep its blobs in ``bucket``."""
        return {
            "KEIYAKU_STORAGE_URL": self.storage_url(bucket, prefix),
            "KEIYAKU_S3_ACCESS_KEY_ID": self.access_key,
            "KEIYAKU_S3_SECRET_ACCESS_KEY": self.secret_key,
        }


def start_s3_server(timeout: float = 60) -> tuple[S3Server, Callable[[], None]]:
    """Start a server process; return it and the function that stops it."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.servers.s3"],
        cwd=_ROOT,
        env={**os.environ, "PYTHONPATH": str(_ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        raise RuntimeError(f"the S3 test server did not start (exit {process.wait(5)})")

    def stop() -> None:
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    return S3Server(endpoint_url=json.loads(line)["endpoint_url"]), stop


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    """A server for the length of a ``with`` block."""
    server, stop = start_s3_server()
    try:
        yield server
    finally:
        stop()


# --- the server process ----------------------------------------------------------------------


def _serialise_writes(app: Any) -> Any:
    lock = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in {"GET", "HEAD", "OPTIONS"}:
            return app(environ, start_response)
        with lock:
            # Consume the answer inside the lock: the write is done when it is sent.
            return list(app(environ, start_response))

    return wrapped


def main() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = _serialise_writes(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    host, port = server.server_address[:2]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"endpoint_url": f"http://{host}:{port}"}), flush=True)  # noqa: T201
    sys.stdin.read()  # until the test process closes it or dies
    server.shutdown()


if __name__ == "__main__":
    main()
