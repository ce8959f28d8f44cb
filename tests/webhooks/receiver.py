"""A webhook receiver on loopback: records every request (headers and body as received) and
answers with the statuses it is told, one per request, then 200."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    port: int = 0
    answers: list[int] = field(default_factory=list)
    """Statuses to answer with, in order; 200 once they are used up."""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/keiyaku"


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                status = state.answers.pop(0) if state.answers else 200
                state.received.append(Received(self.path, dict(self.headers), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def signature_valid(
    header: str, body: bytes, secret: str, *, now: int, tolerance: int = 300
) -> bool:
    """The check docs/api.md tells receivers to make, written here with plain hmac only:
    ``t`` within `tolerance` seconds of `now`, and one ``v1`` equal to the hex HMAC-SHA256
    (key: the secret's UTF-8 bytes) of ``<t>.<body>``."""
    pairs = [item.split("=", 1) for item in header.split(",")]
    stamps = [value for key, value in pairs if key.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].isascii() or not stamps[0].isdecimal():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in pairs if key.strip() == "v1")
