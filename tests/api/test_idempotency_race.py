"""Issue 16, acceptance 4: one Idempotency-Key makes one contract, also when calls race.

Real requests against a real server process (`keiyaku runserver`, threaded), released at
the same moment: the key is taken by a unique row, so one call creates and the others wait
for its answer and get the same one.
"""

from __future__ import annotations

import base64
import json
from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest

from keiyaku.api.models import IdempotentRequest
from keiyaku.contracts.models import Contract
from tests.api.conftest import make_token
from tests.pdfs import make_pdf
from tests.web_process import all_at_once, web_process

pytestmark = pytest.mark.django_db(transaction=True)


def body(title: str) -> bytes:
    document = {
        "filename": "請負契約書.pdf",
        "content_base64": base64.b64encode(make_pdf(text=title)).decode(),
    }
    return json.dumps({"title": title, "documents": [document]}).encode()


class Call:
    """One connection, opened before the calls are released together."""

    def __init__(self, url: str, secret: str, key: str, data: bytes) -> None:
        parts = urlsplit(url)
        self.connection = HTTPConnection(parts.hostname or "", parts.port or 80, timeout=120)
        self.connection.connect()
        self.headers = {
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        self.data = data

    def __call__(self) -> tuple[int, dict[str, str], bytes]:
        try:
            self.connection.request(
                "POST", "/api/v1/contracts", body=self.data, headers=self.headers
            )
            response = self.connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            self.connection.close()


@pytest.mark.slow(seconds=20)
def test_racing_creates_with_one_key_make_one_contract(personas):
    secret = make_token(personas.admin, scope="write").secret
    same = body("令和8年度 清掃業務委託契約")
    with web_process(KEIYAKU_RATE_API="1000") as url:
        answers = all_at_once([Call(url, secret, "order-4711", same) for _ in range(4)])
        statuses = [status for status, _headers, _body in answers]
        assert statuses == [201] * 4, [a[2][:300] for a in answers]
        ids = {json.loads(content)["id"] for _status, _headers, content in answers}
        assert len(ids) == 1
        replayed = [h.get("Idempotent-Replayed") for _s, h, _b in answers]
        assert replayed.count("true") == 3
        assert Contract.objects.count() == 1

        # The same key again, later: the same answer; with another body: 409.
        status, headers, content = Call(url, secret, "order-4711", same)()
        assert status == 201 and json.loads(content)["id"] in ids
        status, _headers, content = Call(url, secret, "order-4711", body("別の契約"))()
        assert status == 409
        assert json.loads(content)["code"] == "idempotency_key_reused"
        assert Contract.objects.count() == 1

        # Another key is another call.
        status, _headers, content = Call(url, secret, "order-4712", same)()
        assert status == 201 and json.loads(content)["id"] not in ids
    assert Contract.objects.count() == 2
    assert IdempotentRequest.objects.filter(status=201).count() == 2


def test_a_refused_create_frees_its_key(personas):
    """Only a success spends a key: a corrected retry with the same key runs."""
    from tests.api.conftest import Api

    client = Api(make_token(personas.admin, scope="write").secret)
    refused = client.post(
        "/contracts",
        {"title": "  ", "documents": [{"filename": "a.pdf", "content_base64": "JVBE"}]},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert refused.status_code == 422
    assert not IdempotentRequest.objects.exists()
