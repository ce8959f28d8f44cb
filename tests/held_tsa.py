"""keiyaku's time-stamp authority on loopback, able to hold requests: a test catches a worker in
the middle of a signature (it waits for its timestamp) and kills it there."""

from __future__ import annotations

import threading

from keiyaku.pki import tsa
from keiyaku.pki.service import get_authority
from tests.loopback_http import timestamp_reply_server


class HeldTsa:
    """keiyaku's TSA on loopback that can hold requests, to catch a worker mid-signature."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.server, self.url = timestamp_reply_server(self._answer)

    def _answer(self, body: bytes) -> bytes:
        if self.hold.is_set():
            self.arrived.set()
            self.release.wait(timeout=120)
        return tsa.respond(body, authority=get_authority())

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
