"""The security findings reproduced from outside: real HTTP against a live server.

Each test talks to pytest-django's `live_server` (a real socket) with `urllib.request` and a
cookie jar, as a browser or a script would; Django's test client is used only to set the scene
(through services and the existing helpers). Finding 2 (lockout races) has its own live tests
(tests/contracts/test_access_code_race.py, tests/login/test_login_race.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

import pytest
from asn1crypto import tsp

from keiyaku.accounts.models import Organisation
from keiyaku.accounts.services import organisation_update_settings
from keiyaku.contracts import services
from keiyaku.login.models import OrganisationSignIn
from keiyaku.pki import tsa_access
from keiyaku.signing.keys import get_timestamper
from tests.flow import External, draft_contract, last_link
from tests.login.test_admin_screens import SETTINGS
from tests.loopback_http import LoopbackServer, loopback_server
from tests.notifications.test_mailbox_isolation import World, world  # noqa: F401 - a fixture
from tests.pdfs import document_timestamped, make_pdf

pytestmark = pytest.mark.django_db(transaction=True)  # the live server sees committed rows only

TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- a browser over HTTP ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class _Stay(HTTPRedirectHandler):
    """Redirects are answers (3xx), not followed."""

    def redirect_request(self, *args, **kwargs):
        return None


class HttpBrowser:
    """One browser: a cookie jar, the CSRF token of the last form it was shown."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.jar = CookieJar()
        self.token = ""

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = False,
    ) -> Answer:
        handlers = [HTTPCookieProcessor(self.jar)] + ([] if follow else [_Stay()])
        sent = Request(self.base_url + path, data=body, headers=headers or {}, method=method)
        try:
            with build_opener(*handlers).open(sent, timeout=60) as response:
                answer = Answer(response.status, response.read(), _lower(response.headers))
        except HTTPError as refused:  # 3xx not followed, 4xx, 5xx
            answer = Answer(refused.code, refused.read(), _lower(refused.headers))
        found = TOKEN_RE.search(answer.text)
        if found:
            self.token = found.group(1)
        return answer

    def get(self, path: str, *, follow: bool = False, **headers: str) -> Answer:
        return self.request("GET", path, headers=headers, follow=follow)

    def post(self, path: str, data: dict[str, str], *, follow: bool = False) -> Answer:
        body = urlencode({**data, "csrfmiddlewaretoken": self.token}).encode()
        content_type = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, body=body, headers=content_type, follow=follow)

    def post_file(self, path: str, name: str, filename: str, data: bytes) -> Answer:
        """A multipart/form-data form: the CSRF token and one file."""
        boundary = f"----keiyaku{secrets.token_hex(12)}"
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                b'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n',
                self.token.encode() + b"\r\n",
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode(),
                b"Content-Type: application/pdf\r\n\r\n",
                data + b"\r\n",
                f"--{boundary}--\r\n".encode(),
            ]
        )
        content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.request("POST", path, body=body, headers=content_type)

    def log_in(self, username: str, password: str) -> None:
        assert self.get("/login/").status == 200
        answer = self.post("/login/", {"username": username, "password": password})
        assert answer.status == 302 and "/login/" not in answer.location, answer.text[:2000]


def _lower(headers) -> dict[str, str]:  # an http.client message
    return {key.lower(): value for key, value in headers.items()}


def logged_in(live_server, username: str, password: str) -> HttpBrowser:
    browser = HttpBrowser(live_server.url)
    browser.log_in(username, password)
    return browser


# --- finding 1: captured mail --------------------------------------------------------------


@pytest.fixture
def trial(personas):
    """Both organisations practise: their mail is kept in the mailbox."""
    Organisation.objects.filter(pk__in=[personas.org.pk, personas.outsider_org.pk]).update(
        is_trial=True
    )
    return personas


@pytest.fixture
def mail(trial, world: World) -> World:  # noqa: F811 - the imported fixture
    return world


def test_finding_1_another_organisations_mailbox_and_attachments_stay_hidden(
    live_server, trial, mail
):
    """Finding 1: organisation B's staff, logged in over HTTP, read none of A's captured mail
    (the new admin's first-password link, the company's application link) and get 404 for the
    signed PDF attached to A's completion mail; A's admin reads and downloads them."""
    a_mail = (mail.a_welcome, mail.a_application, "new-admin@city.example.jp", "firm@a.example.jp")
    for staff in (mail.b_viewer, mail.b_sender, mail.b_admin):
        browser = logged_in(live_server, staff.username, trial.password)
        page = browser.get("/mailbox/")
        assert page.status == 200, staff.username
        assert not [text for text in a_mail if text in page.text], staff.username
        found = browser.get(f"/mailbox/attachments/{mail.a_attachment}/")
        assert found.status == 404, staff.username
        assert not found.body.startswith(b"%PDF")
    # B's own mail is there: the page lists mail, only not A's.
    assert mail.b_welcome in page.text

    a_admin = logged_in(live_server, trial.admin.username, trial.password)
    page = a_admin.get("/mailbox/")
    assert page.status == 200
    assert mail.a_welcome in page.text and mail.a_application in page.text
    assert mail.b_welcome not in page.text
    download = a_admin.get(f"/mailbox/attachments/{mail.a_attachment}/")
    assert download.status == 200 and download.body.startswith(b"%PDF")


# --- finding 4: outbound HTTP -------------------------------------------------------------

REFUSAL = "内部ネットワーク"


@pytest.fixture
def recorder(settings) -> Iterator[LoopbackServer]:
    settings.KEIYAKU_OUTBOUND_ALLOW = []
    with loopback_server("127.0.0.1") as server:
        yield server


def test_finding_4_an_internal_openid_issuer_is_refused_and_never_called(
    live_server, personas, recorder
):
    """Finding 4 (blind SSRF): an admin saving an OpenID issuer on loopback on the sign-in
    settings screen over HTTP gets the refusal, nothing is stored, and the loopback server
    records no request; an issuer stored by another route is not called at login either."""
    admin = logged_in(live_server, personas.admin.username, personas.password)
    assert admin.get("/signin/settings/").status == 200
    form = {k: v for k, v in SETTINGS.items() if k != "totp_required"}
    answer = admin.post("/signin/settings/", {**form, "oidc_issuer": recorder.url})
    assert answer.status == 200, answer.location
    assert REFUSAL in answer.text
    assert not OrganisationSignIn.objects.filter(organisation=personas.org).exists()

    OrganisationSignIn.objects.create(
        organisation=personas.org,
        oidc_enabled=True,
        oidc_issuer=recorder.url,
        oidc_client_id="keiyaku",
        session_timeout_minutes=60,
    )
    login = HttpBrowser(live_server.url).get("/login/oidc/test-city/")
    assert login.status == 403 and REFUSAL in login.text
    assert recorder.hits == []


# --- finding 5: the IP allow-list and staff who sign ---------------------------------------

ACME = External("株式会社アクメ", "山田 太郎", "yamada@acme.example.jp", "8080")
REFUSED = "この接続元（127.0.0.1）からは"


def allow_only(personas, allowlist: str, inside: str) -> None:
    organisation_update_settings(
        organisation=personas.org,
        actor=personas.admin,
        include_subdepartments=False,
        ip_allowlist=allowlist,
        current_ip=inside,
    )


def test_finding_5_a_staff_partys_link_obeys_the_ip_allow_list(live_server, personas, settings):
    """Finding 5: with an allow-list that leaves out the client (127.0.0.1), the mayor's
    signing link (a staff party) is refused 403 over HTTP, logged in or not and whatever
    X-Forwarded-For says (no trusted proxy); the counterparty's link works from there. Once the
    list holds 127.0.0.1 the mayor's link opens."""
    settings.KEIYAKU_TRUSTED_PROXIES = []
    allow_only(personas, "192.0.2.0/24", "192.0.2.7")
    for parties in ({"staff_signers": [personas.mayor]}, {"externals": [ACME]}):
        contract = draft_contract(personas.sender, **parties)
        services.contract_send(contract=contract, actor=personas.sender)
    mayor_link, acme_link = last_link(personas.mayor.email), last_link(ACME.email)
    assert mayor_link.startswith("/s/") and acme_link.startswith("/s/")

    mayor = logged_in(live_server, personas.mayor.username, personas.password)
    for browser in (mayor, HttpBrowser(live_server.url)):
        for path in (mayor_link, f"{mayor_link}documents/"):
            refused = browser.get(path)
            assert refused.status == 403, (path, refused.status)
            assert REFUSED in refused.text
    spoofed = mayor.get(mayor_link, **{"X-Forwarded-For": "192.0.2.7"})
    assert spoofed.status == 403

    acme = HttpBrowser(live_server.url)
    assert acme.get(acme_link).status == 200
    entered = acme.post(acme_link, {"code": ACME.code})
    assert entered.status == 302 and entered.location.endswith(f"{acme_link}documents/")
    assert acme.get(f"{acme_link}documents/").status == 200

    allow_only(personas, "127.0.0.1/32", "127.0.0.1")
    opened = mayor.get(mayor_link)
    assert opened.status == 302 and opened.location.endswith(f"{mayor_link}documents/")
    assert mayor.get(f"{mayor_link}documents/").status == 200


# --- finding 6: verification and keiyaku's TSA --------------------------------------------


def result(page: str) -> dict[str, str]:
    """The data attributes of the verdict card."""
    card = re.search(r'<div class="card verdict[^"]*" id="verify-result"([^>]*)>', page)
    assert card, page
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', card.group(1)))


def test_finding_6_a_made_up_pdf_with_a_document_timestamp_is_timestamp_only(live_server):
    """Finding 6: a made-up PDF carrying only a document timestamp (from keiyaku's own TSA),
    uploaded to /verify/ over HTTP as multipart, is called "timestamp only", never green."""
    stamped = document_timestamped(make_pdf(), timestamper=get_timestamper())
    anyone = HttpBrowser(live_server.url)
    assert anyone.get("/verify/").status == 200
    answer = anyone.post_file("/verify/", "file", "契約書.pdf", stamped)
    assert answer.status == 200
    assert result(answer.text)["verdict"] == "timestamp_only"
    assert result(answer.text)["ok"] == "false"
    assert 'data-verdict="timestamp_only"' in answer.text
    assert "タイムスタンプのみ" in answer.text
    assert "status completed" not in answer.text and "すべての署名は有効です" not in answer.text


def test_finding_6_keiyakus_tsa_refuses_anyone_without_its_token(live_server, settings):
    """Finding 6: an anonymous POST of a timestamp query to /pki/tsa over HTTP (no token, or a
    wrong one) is refused 403 with no token; keiyaku's own token is answered."""
    settings.KEIYAKU_TSA_PUBLIC = False
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": bytes(32),
            },
            "cert_req": True,
        }
    ).dump()
    anyone = HttpBrowser(live_server.url)
    kind = {"Content-Type": "application/timestamp-query"}
    for extra in ({}, {tsa_access.HEADER: "0" * 64}):
        refused = anyone.request("POST", "/pki/tsa", body=query, headers={**kind, **extra})
        assert refused.status == 403, extra
        assert refused.headers["content-type"].startswith("text/plain")

    own = {**kind, tsa_access.HEADER: tsa_access.client_token()}
    granted = anyone.request("POST", "/pki/tsa", body=query, headers=own)
    assert granted.status == 200
    assert tsp.TimeStampResp.load(granted.body)["status"]["status"].native == "granted"
