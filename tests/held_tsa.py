"""keiyaku's time-stamp authority on loopback, able to hold requests: a test catches a worker in
the middle of a signature (it waits for its timestamp) and kills it there."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from keiyaku.pki import tsa
from keiyaku.pki.service import get_authority


class HeldTsa:
    """keiyaku's TSA on loopback that can hold requests, to catch a worker mid-signature."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.hold.is_set():
                    outer.arrived.set()
                    outer.release.wait(timeout=120)
                reply = tsa.respond(body, authority=get_authority())
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
