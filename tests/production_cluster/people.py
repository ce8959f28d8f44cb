"""The people who use the installation, over HTTP only: staff who create and send contracts
through the staff pages, parties who read their e-mail at the SMTP relay and agree.

A `Person` spreads its requests over the web processes (round robin, as a load balancer would)
and, when a connection dies (its web process was killed, or is still starting), presses again
on the next one after a short pause, as a person would. A request that may have been carried
out before its connection died (creating a contract, adding a party) is pressed again only
after the person looked and saw it was not. Any answer 500 or above is recorded: keiyaku must
never give one.
"""

from __future__ import annotations

import html
import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from tests.production_cluster.cluster import RecordingRelay

_TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SIGN_LINK_RE = re.compile(r"https?://[^\s/]+(/s/[A-Za-z0-9_-]+/)")
SHA_RE = re.compile(r'name="(sha256_\d+)" value="([0-9a-f]{64})"')
BOX_RE = re.compile(r'<textarea hidden name="(box_\d+)">(.*?)</textarea>', re.S)
CONTRACT_RE = re.compile(r"/contracts/([0-9a-f-]{36})/")
SUMMARY_RE = re.compile(r'name="summary" value="([0-9a-f]{64})"')

RETRY_PAUSE = 0.5
RETRY_FOR_SECONDS = 180


class ServerError(AssertionError):
    """A web process answered 500 or above."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    location: str = ""


@dataclass
class Stats:
    """What happened on the wire, for the report."""

    requests: int = 0
    retries: int = 0
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, *, retry: bool = False) -> None:
        with self.lock:
            self.requests += 1
            self.retries += retry


class Person:
    """One browser: its cookies, the CSRF token of the last form it was shown, its own client
    address (X-Forwarded-For, behind the trusted proxy), and the web processes it may reach."""

    def __init__(self, urls: Sequence[str], *, address: str, stats: Stats) -> None:
        self.servers = [(urlsplit(u).hostname or "", urlsplit(u).port or 80) for u in urls]
        self._next = itertools.cycle(range(len(self.servers)))
        for _ in range(hash(address) % len(self.servers)):
            next(self._next)
        self.address = address
        self.stats = stats
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.last_retried = False
        """Whether the last request was pressed more than once."""

    # -- the wire --------------------------------------------------------------------------

    def _once(self, method: str, path: str, body: bytes | None, content_type: str) -> Answer:
        host, port = self.servers[next(self._next)]
        headers = {"X-Forwarded-For": self.address, "Referer": f"http://{host}:{port}{path}"}
        if body is not None:
            headers["Content-Type"] = content_type
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = HTTPConnection(host, port, timeout=150)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return Answer(response.status, text, response.getheader("Location") or "")
        finally:
            connection.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "",
        *,
        happened: Callable[[], bool] | None = None,
    ) -> Answer:
        """Send; on a dead connection press again (on the next web process) until an answer
        comes. `happened`, when given, is asked before pressing again: True means the first
        press was carried out after all, and the answer is then a 303 to nowhere."""
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        retry = False
        while True:
            try:
                self.stats.count(retry=retry)
                answer = self._once(method, path, body, content_type)
            except (OSError, HTTPException):
                if time.monotonic() > deadline:
                    raise
                time.sleep(RETRY_PAUSE)
                retry = True
                if happened is not None:
                    try:
                        if happened():
                            return Answer(303, "")
                    except (OSError, HTTPException):
                        pass
                continue
            if answer.status >= 500:
                with self.stats.lock:
                    self.stats.server_errors.append(f"{method} {path}: {answer.status}")
                raise ServerError(f"{method} {path}: {answer.status}\n{answer.body[:3000]}")
            self.last_retried = retry
            if method == "GET":
                found = _TOKEN_RE.search(answer.body)
                if found:
                    self.token = found.group(1)
            return answer

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(
        self, path: str, data: dict[str, str], *, happened: Callable[[], bool] | None = None
    ) -> Answer:
        body = urlencode({**data, "csrfmiddlewaretoken": self.token}).encode()
        return self.request(
            "POST", path, body, "application/x-www-form-urlencoded", happened=happened
        )

    def post_files(
        self,
        path: str,
        data: dict[str, str],
        files: Sequence[tuple[str, str, bytes]],
        *,
        happened: Callable[[], bool] | None = None,
    ) -> Answer:
        """A multipart/form-data POST: `files` are (field, file name, bytes)."""
        boundary = uuid.uuid4().hex
        parts: list[bytes] = []
        for name, value in {**data, "csrfmiddlewaretoken": self.token}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        for name, filename, content in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST",
            path,
            b"".join(parts),
            f"multipart/form-data; boundary={boundary}",
            happened=happened,
        )


def expect(answer: Answer, *statuses: int, what: str) -> Answer:
    assert answer.status in statuses, f"{what}: {answer.status}\n{answer.body[:3000]}"
    return answer


# -- staff ---------------------------------------------------------------------------------


def staff_sign_in(person: Person, username: str, password: str) -> None:
    expect(person.get("/login/"), 200, what="login page")
    answer = person.post("/login/", {"username": username, "password": password})
    expect(answer, 302, what=f"login of {username}")
    expect(person.get("/"), 200, what="contract list after login")


@dataclass(frozen=True)
class PartyPlan:
    company: str
    name: str
    email: str
    code: str


def contract_create_and_send(
    staff: Person, *, title: str, pdf: bytes, parties: Sequence[PartyPlan]
) -> str:
    """Through the staff pages: create the contract with its PDF, add the parties in order,
    send. Returns the contract's id."""
    found: dict[str, str] = {}

    def created() -> bool:
        # Did the contract come to be before the connection died? The list says.
        listing = staff.get("/").body
        match = re.search(
            r'href="/contracts/([0-9a-f-]{36})/">' + re.escape(html.escape(title)) + "<", listing
        )
        if match:
            found["id"] = match.group(1)
        return bool(match)

    expect(staff.get("/contracts/new/"), 200, what="new contract form")
    answer = staff.post_files(
        "/contracts/new/",
        {"title": title, "management_number": title[-8:], "amount": "1000000"},
        [("files", "契約書.pdf", pdf)],
        happened=created,
    )
    if answer.status == 303:
        contract_id = found["id"]
    else:
        expect(answer, 302, what=f"create {title}")
        contract_id = CONTRACT_RE.search(answer.location).group(1)  # type: ignore[union-attr]
    detail = f"/contracts/{contract_id}/"
    # The form's CSRF token serves every post of this signed-in tab (no page in between).
    for party in parties:
        answer = staff.post(
            f"{detail}parties/",
            {
                "kind": "external",
                "company": party.company,
                "name": party.name,
                "email": party.email,
                "access_code": party.code,
                "role": "signer",
            },
            happened=lambda p=party: html.escape(p.email) in staff.get(detail).body,
        )
        expect(answer, 302, 303, what=f"add {party.email}")
    # The confirmation first (issue 14); pressed again after a dead connection, the send with
    # the same confirmation does nothing: the same end.
    confirm = expect(staff.get(f"{detail}send/confirm/"), 200, what="confirm").body
    summary = SUMMARY_RE.search(confirm).group(1)  # type: ignore[union-attr]
    expect(staff.post(f"{detail}send/", {"deadline": "", "summary": summary}), 302, what="send")
    return contract_id


# -- parties -------------------------------------------------------------------------------


def wait_for_link(relay: RecordingRelay, address: str, *, seconds: float) -> str:
    """The signing link of the first request mail the relay received for `address`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for body in relay.bodies_to(address):
            found = SIGN_LINK_RE.search(body)
            if found:
                return found.group(1)
        time.sleep(0.25)
    raise AssertionError(f"no signing request reached {address} within {seconds:.0f} s")


def party_agree(person: Person, link: str, code: str) -> None:
    """Open the link, prove the access code, read, agree and complete, as a browser would."""
    expect(person.get(link), 200, what="link page")
    expect(person.post(link, {"code": code}), 302, what="access code")
    expect(person.get(link + "documents/"), 200, what="documents")
    page = expect(person.post(link + "confirm/", {}), 200, what="confirm").body
    fields = dict(SHA_RE.findall(page))
    assert fields, page[:3000]
    fields.update({name: html.unescape(value) for name, value in BOX_RE.findall(page)})
    answer = person.post(link + "complete/", fields)
    if not person.last_retried:
        assert "署名手続きが完了しました" in answer.body, answer.body[:3000]
    # Pressed again after a dead connection, the second press may find the agreement already
    # recorded (the link then asks again, or says it is done: 410 「署名手続きは完了しています」):
    # the database has the last word.
    done = (410,) if person.last_retried else ()
    expect(answer, 200, 302, 409, *done, what="complete")
