"""A request id on every answer and every log line of its request; JSON log lines; the
access line names the URL pattern, never a signing link's token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from keiyaku.operations.log_format import HidePathsFilter, JsonFormatter
from keiyaku.operations.request_id import RequestIdFilter, current_request_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """keiyaku's JSON log handler (the one KEIYAKU_LOG_FORMAT=json configures) on the root."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(HidePathsFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    logging.getLogger("keiyaku.request").setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.level = level


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_answer_carries_a_new_request_id():
    first, second = Client().get("/login/"), Client().get("/login/")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]


def test_a_proxys_request_id_is_kept_and_a_bad_one_replaced():
    assert Client().get("/login/", HTTP_X_REQUEST_ID="lb-7f3a.1")["X-Request-ID"] == "lb-7f3a.1"
    for bad in ("two words", "x" * 200, "inject\nline"):
        kept = Client().get("/login/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert kept != bad and len(kept) == 32


def test_log_lines_of_a_request_carry_its_id_and_the_access_line_hides_tokens(json_log):
    answer = Client().get("/s/secret-token-abcdef/", HTTP_X_REQUEST_ID="req-42")
    assert answer["X-Request-ID"] == "req-42"
    entries = lines(json_log)
    access = [e for e in entries if e["logger"] == "keiyaku.request"]
    assert len(access) == 1
    assert access[0]["request_id"] == "req-42"
    assert access[0]["route"] == "/s/<str:token>/" and access[0]["status"] == answer.status_code
    assert access[0]["method"] == "GET" and access[0]["duration_ms"] >= 0
    # Django's own line for the 4xx answer names the pattern too, not the path.
    (refused,) = [e for e in entries if e["logger"] == "django.request"]
    assert refused["request_id"] == "req-42" and refused["message"].endswith("/s/<str:token>/")
    assert "secret-token-abcdef" not in json_log.getvalue()
    assert current_request_id() == ""  # nothing leaks into the next request of this thread


def test_a_line_logged_inside_a_view_carries_the_request_id(json_log, settings):
    # A staff page that logs a warning while handling the request: the readiness check of an
    # unreachable time-stamp authority.
    settings.KEIYAKU_TSA_URLS = ["http://127.0.0.1:9/tsa"]
    Client().get("/readyz", HTTP_X_REQUEST_ID="probe-9")
    warned = [e for e in lines(json_log) if e["logger"] == "keiyaku.operations.health"]
    assert warned and all(e["request_id"] == "probe-9" for e in warned)
    assert all(e["level"] == "WARNING" for e in warned)


def test_lines_outside_a_request_say_so(json_log):
    logging.getLogger("keiyaku.test").warning("from a job", extra={"contract": "c-1"})
    (entry,) = [e for e in lines(json_log) if e["logger"] == "keiyaku.test"]
    assert entry["request_id"] == "-" and entry["contract"] == "c-1"
    assert entry["message"] == "from a job" and entry["time"].endswith("+00:00")


def test_an_exception_is_one_json_line(json_log):
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("keiyaku.test").exception("failed")
    (entry,) = [e for e in lines(json_log) if e["logger"] == "keiyaku.test"]
    assert "ValueError: broken" in entry["exception"]


def test_an_unmatched_path_is_logged_by_its_first_segment_only(json_log):
    Client().get("/d/a-secret-token/extra/")
    (refused,) = [e for e in lines(json_log) if e["logger"] == "django.request"]
    assert refused["message"] == "Not Found: /d/…" and refused["status_code"] == 404
    assert "a-secret-token" not in json_log.getvalue()
