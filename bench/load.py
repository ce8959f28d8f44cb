"""An HTTP load generator for the web benchmark: C clients, each one request at a time.

Each client is a keep-alive HTTP/1.1 connection (as a browser holds one) that sends its next
request as soon as the last answer is read, for ``seconds`` and until ``min_requests`` were
sent (a slow page still gets a median); a request still in flight then is waited for and
counted. Plain asyncio sockets in this process, so that what is timed is the
server and not an HTTP library. Requests per second are completed requests over the time from
the first request to the last answer.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One request: a path and the cookie and Authorization headers sent with it (empty:
    none)."""

    path: str
    cookie: str = ""
    authorization: str = ""


@dataclass(frozen=True)
class Figures:
    """What one load run measured: latencies in ms, requests per second, answers other than
    200 (``errors``, failed connections included) and the bytes of the last body read."""

    clients: int
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float
    body_bytes: int


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def get(self, target: Target) -> tuple[int, int]:
        """(status, body length) of one GET; reconnects when the server closed the socket."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        cookie = f"Cookie: {target.cookie}\r\n" if target.cookie else ""
        if target.authorization:
            cookie += f"Authorization: {target.authorization}\r\n"
        self.writer.write(
            f"GET {target.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"User-Agent: keiyaku-bench\r\nAccept-Encoding: identity\r\n{cookie}\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        size = 0
        if "content-length" in headers:
            size = int(headers["content-length"])
            await self.reader.readexactly(size)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                length = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(length + 2)
                size += length
                if length == 0:
                    break
        else:  # no length: the body ends with the connection
            size = len(await self.reader.read())
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, size


async def _run(
    host: str,
    port: int,
    targets: Sequence[Target],
    clients: int,
    seconds: float,
    min_requests: int,
) -> Figures:
    latencies: list[float] = []
    errors = 0
    body = 0
    start = time.perf_counter()
    stop_at = start + seconds
    last_answer = start
    sent = 0

    async def client(number: int) -> None:
        nonlocal errors, body, last_answer, sent
        connection = _Connection(host, port)
        turn = number
        try:
            while time.perf_counter() < stop_at or sent < min_requests:
                sent += 1
                target = targets[turn % len(targets)]
                turn += clients
                began = time.perf_counter()
                try:
                    status, size = await connection.get(target)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    await connection.close()
                    continue
                ended = time.perf_counter()
                latencies.append((ended - began) * 1000)
                last_answer = max(last_answer, ended)
                if status != 200:
                    errors += 1
                body = size
        finally:
            await connection.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    if not latencies:
        return Figures(clients, 0, errors, 0.0, 0.0, 0.0, 0.0, 0)
    ordered = sorted(latencies)

    def percentile(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

    return Figures(
        clients=clients,
        requests=len(latencies),
        errors=errors,
        p50_ms=statistics.median(ordered),
        p95_ms=percentile(0.95),
        p99_ms=percentile(0.99),
        rps=len(latencies) / max(last_answer - start, 1e-9),
        body_bytes=body,
    )


def load(
    base_url: str,
    targets: Sequence[Target],
    *,
    clients: int,
    seconds: float,
    min_requests: int = 1,
) -> Figures:
    """Drive ``targets`` (taken in turn, each client starting at its own) with ``clients``
    concurrent clients for ``seconds`` and at least ``min_requests`` requests; :class:`Figures`."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return asyncio.run(
        _run(
            parts.hostname or "127.0.0.1",
            parts.port or 80,
            targets,
            clients,
            seconds,
            min_requests,
        )
    )


def timed(call: Callable[[], object], times: int) -> tuple[float, float]:
    """(p50, p95) in ms of ``times`` calls of ``call`` in this thread, after two warm-up calls:
    the single-request figures bench/staff_list.py and bench/search.py print."""
    for _ in range(2):
        call()
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[
        min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))
    ]
