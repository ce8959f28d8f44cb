"""A loopback HTTP server that records every request, for the outbound-HTTP tests.

Paths: `/ok` (200 "ok"), `/redirect?to=URL` (302 to URL; any path under `/r/` does the same
with the target given to the server), `/big?n=N` (N bytes with Content-Length), `/stream?n=N`
(N bytes, no length, until close), `/hang` (never answers), `/trickle` (announces 100 bytes
and sends one every 50 ms). The slow paths end when the server is closed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of asking, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class LoopbackServer:
    host: str
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    redirect_to: str = ""
    """Where every path under /r/ redirects."""
    closing: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def loopback_server(host: str = "127.0.0.1") -> Iterator[LoopbackServer]:
    state = LoopbackServer(host)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            state.hits.append(Hit(self.command, self.path, dict(self.headers)))
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/ok":
                self._send(200, b"ok")
            elif parts.path == "/redirect" or parts.path.startswith("/r/"):
                self.send_response(302)
                self.send_header("Location", query.get("to", state.redirect_to))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif parts.path == "/big":
                self._send(200, b"x" * int(query["n"]))
            elif parts.path == "/stream":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"x" * int(query["n"]))
                self.close_connection = True
            elif parts.path == "/hang":
                state.closing.wait(60)
            elif parts.path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(100):
                    if state.closing.wait(0.05):
                        break
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        break
            else:
                self._send(404, b"")

        do_GET = _answer  # noqa: N815 - http.server's naming
        do_POST = _answer  # noqa: N815

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        state.closing.set()
        server.shutdown()
        server.server_close()


def timestamp_reply_server(answer: Callable[[bytes], bytes]) -> tuple[ThreadingHTTPServer, str]:
    """An RFC 3161 responder on 127.0.0.1 serving in a daemon thread: each POSTed request's
    body (DER TimeStampReq) is answered with ``answer(body)`` (DER TimeStampResp). A client
    killed meanwhile is no error. Returns the server (``shutdown()`` it) and its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            reply = answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            try:
                self.wfile.write(reply)
            except OSError:
                pass  # the client was killed meanwhile

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/tsa"
