"""Uploads (issue 10, finding 4): counted before they are read, refused with a Japanese answer
when too many or too large, and ingested outside the database transaction, so that a slow
ingest never makes another organisation's page fail with "database is locked"."""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import Contract
from keiyaku.contracts.services.drafting import Upload
from keiyaku.storage.models import Blob, KeyRing
from tests.flow import draft_contract
from tests.pdf_corpus.limits import MB, with_image, zeros_deflated
from tests.pdfs import make_pdf
from tests.peak_memory import peak_reset, peak_rise
from tests.web_process import Browser, web_process


def sparse_files(directory: Path, count: int, size: int) -> list[Upload]:
    """``count`` files of ``size`` bytes that take no disk space: reading one costs ``size``
    bytes of memory, looking at its size nothing."""
    uploads = []
    for number in range(count):
        path = directory / f"scan-{number}.pdf"
        with path.open("wb") as fh:
            fh.write(b"%PDF-1.7\n")
            fh.truncate(size)
        uploads.append(Upload(filename=path.name, data=path))
    return uploads


@pytest.mark.parametrize(
    ("count", "code"), [(10, "too_many_files"), (3, "contract_too_large")], ids=["count", "size"]
)
def test_uploads_over_the_limits_are_refused_unread(personas, tmp_path, count, code) -> None:
    """Ten files of 60 MB (finding 4 peaked at 767 MB): refused from their count and sizes,
    with memory rising by far less than one file, and nothing stored."""
    uploads = sparse_files(tmp_path, count, 60 * MB)
    blobs, rings = Blob.objects.count(), KeyRing.objects.count()
    start = peak_reset()
    with pytest.raises(ContractError) as refused:
        services.contract_create(actor=personas.sender, title="大量の添付", uploads=uploads)
    assert peak_rise(start) < 10 * MB
    assert refused.value.code == code
    assert (Blob.objects.count(), KeyRing.objects.count()) == (blobs, rings)


def test_a_refused_second_file_leaves_no_blob_of_the_first(personas) -> None:
    blobs, rings = Blob.objects.count(), KeyRing.objects.count()
    with pytest.raises(ContractError) as refused:
        services.contract_create(
            actor=personas.sender,
            title="二つ目が壊れている",
            uploads=[Upload("契約書.pdf", make_pdf()), Upload("壊れた.pdf", b"%PDF-1.7\nxx")],
        )
    assert refused.value.code == "corrupt"
    assert (Blob.objects.count(), KeyRing.objects.count()) == (blobs, rings)
    assert not Contract.objects.filter(title="二つ目が壊れている").exists()


def test_an_upload_on_disk_is_ingested_from_its_path(personas, tmp_path) -> None:
    path = tmp_path / "契約書.pdf"
    path.write_bytes(make_pdf(pages=2))
    contract = services.contract_create(
        actor=personas.sender, title="ディスク上のファイル", uploads=[Upload(path.name, path)]
    )
    document = contract.documents.get()
    assert (document.page_count, document.original.size) == (2, path.stat().st_size)


def test_document_add_refused_when_the_draft_filled_up_meanwhile(personas, settings) -> None:
    """The count is checked again under the lock: a file added while this one was ingested
    counts, and the refused file's blobs are discarded."""
    settings.KEIYAKU_MAX_FILES = 2
    contract = draft_contract(personas.sender)
    blobs = Blob.objects.count()
    services.document_add(
        contract=contract, actor=personas.sender, upload=Upload("別紙1.pdf", make_pdf())
    )
    with pytest.raises(ContractError) as refused:
        services.document_add(
            contract=contract, actor=personas.sender, upload=Upload("別紙2.pdf", make_pdf())
        )
    assert refused.value.code == "too_many_files"
    assert Blob.objects.count() == blobs + 2  # the first one's original and normalised only


def _logged_in_client(personas) -> Client:
    client = Client()
    client.force_login(personas.sender)
    return client


def test_too_many_files_in_the_form_get_a_japanese_page(personas) -> None:
    files = [SimpleUploadedFile(f"契約書{n}.pdf", make_pdf()) for n in range(6)]
    answer = _logged_in_client(personas).post(
        "/contracts/new/", {"title": "ファイルが多すぎる", "files": files}
    )
    assert answer.status_code == 400
    assert "1つの案件に登録できるファイルは5件までです。" in answer.content.decode()


def test_more_files_than_django_parses_get_a_japanese_page(personas, settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = [SimpleUploadedFile(f"f{n}.pdf", b"%PDF-1.7\n") for n in range(4)]
    answer = _logged_in_client(personas).post("/contracts/new/", {"title": "x", "files": files})
    assert answer.status_code == 400
    assert "一度に送信できるファイルの数（3）を超えています。" in answer.content.decode()


def test_a_large_json_body_gets_a_japanese_json_refusal(personas, settings) -> None:
    settings.KEIYAKU_MAX_REQUEST_BYTES = 1000
    answer = _logged_in_client(personas).post(
        "/contracts/new/",
        data="{" + " " * 2000 + "}",
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"
    assert "上限" in answer.json()["error"]


# --- from outside: a real server process ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_request_too_large_is_refused_before_its_body_is_sent(personas) -> None:
    """The server answers from the Content-Length alone: 413 with a Japanese page arrives
    although not one byte of the (announced 600 MB) body was sent."""
    with web_process() as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(
                f"POST /contracts/new/ HTTP/1.1\r\nHost: {host}:{port}\r\n".encode() + b""
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 629145600\r\n\r\n"
            )
            reply = b""
            while b"</html>" not in reply:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    raise AssertionError(f"no complete answer: {reply[:3000]!r}") from None
                if not chunk:
                    break
                reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert "送信されたデータが大きすぎます" in body.decode()


def _post_files(browser: Browser, path: str, fields: dict[str, str], files: dict[str, bytes]):
    boundary = f"----keiyaku{secrets.token_hex(8)}"
    parts = []
    for name, value in {**fields, "csrfmiddlewaretoken": browser.token}.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    body = "".join(parts).encode()
    for filename, data in files.items():
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    connection = HTTPConnection(browser.host, browser.port, timeout=300)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Referer": f"http://{browser.host}:{browser.port}{path}",
                "Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
            },
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _log_in(url: str, username: str, password: str) -> Browser:
    browser = Browser(url)
    assert browser.get("/login/").status == 200
    answer = browser.post("/login/", {"username": username, "password": password})
    assert answer.status == 302 and "/login/" not in answer.location, answer.body[:500]
    return browser


@pytest.mark.django_db(transaction=True)
def test_a_slow_ingest_does_not_lock_out_another_organisation(personas) -> None:
    """Finding 4: ingest ran inside contract_create's transaction and held SQLite's write lock
    while it worked, so another organisation's page (which writes its audit entry) waited and
    failed with 500 "database is locked". With a write timeout of 1 s and an ingest of a few
    seconds, every page the other organisation opens meanwhile must answer 200."""
    theirs = draft_contract(personas.outsider, title="よそ町の契約")
    # A legitimate file whose rewrite takes seconds: one 64 MB (decoded) Flate image.
    slow = with_image(
        make_pdf(), zeros_deflated(64 * MB), filters=["/FlateDecode"], width=8192, height=8192
    )
    with web_process(KEIYAKU_SQLITE_TIMEOUT="1") as url:
        sender = _log_in(url, "sender", personas.password)
        assert sender.get("/contracts/new/").status == 200
        outsider = _log_in(url, "outsider", personas.password)
        outcome: dict[str, object] = {}

        def create() -> None:
            started = time.monotonic()
            outcome["answer"] = _post_files(
                sender, "/contracts/new/", {"title": "大きな図面"}, {"図面.pdf": slow}
            )
            outcome["seconds"] = time.monotonic() - started

        creating = threading.Thread(target=create)
        creating.start()
        statuses = []
        time.sleep(0.3)  # the upload is being ingested
        while creating.is_alive():
            answer = outsider.get(f"/contracts/{theirs.pk}/")
            statuses.append(answer.status)
            if answer.status != 200:
                break
        creating.join(timeout=300)
    status, body = outcome["answer"]  # type: ignore[misc]
    assert status == 302, re.sub(r"\s+", " ", body)[:2000]
    assert outcome["seconds"] > 1.5  # longer than the write timeout: the test can tell
    assert statuses and set(statuses) == {200}, statuses
    assert Contract.objects.filter(title="大きな図面").exists()
