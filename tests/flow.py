"""Drive the contract flow as users do: services for staff set-up, HTTP for parties."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import Contract
from keiyaku.contracts.services.drafting import Upload
from keiyaku.notifications.models import CapturedMail
from tests.pdfs import make_pdf
from tests.process_environment import on_test_database

URL_RE = re.compile(r"https?://[^\s/]+(/(?:s|d)/[A-Za-z0-9_-]+/)")
SHA_RE = re.compile(r'name="(sha256_\d+)" value="([0-9a-f]{64})"')


@dataclass(frozen=True)
class External:
    company: str
    name: str
    email: str
    code: str = "1234"


def mails_to(address: str) -> list[CapturedMail]:
    return list(CapturedMail.objects.filter(to=address).order_by("id"))


def mail_links(address: str) -> list[str]:
    """Every signing or download link e-mailed to an address, oldest first (paths)."""
    return [path for mail in mails_to(address) for path in URL_RE.findall(mail.body)]


def last_link(address: str) -> str:
    links = mail_links(address)
    assert links, f"no link was e-mailed to {address}"
    return links[-1]


def draft_contract(
    sender,
    *,
    externals: Sequence[External] = (),
    staff_signers: Sequence = (),
    documents: int = 1,
    pages: int = 1,
    title: str = "令和8年度 道路補修工事 請負契約",
    heading: str | None = None,
) -> Contract:
    """A draft made through the services. Each document's heading is ``heading`` (default: the
    title) and its number: contracts given one heading upload the same bytes, which ingest
    checks once per organisation and process."""
    uploads = [
        Upload(
            filename=f"契約書{i + 1}.pdf",
            data=make_pdf(pages=pages, text=f"{heading or title} 第{i + 1}号"),
        )
        for i in range(documents)
    ]
    contract = services.contract_create(
        actor=sender,
        title=title,
        management_number="R8-土木-0042",
        counterparty_company=externals[0].company if externals else "",
        amount=12_345_000,
        uploads=uploads,
    )
    for ext in externals:
        services.party_add(
            contract=contract,
            actor=sender,
            kind="external",
            company=ext.company,
            name=ext.name,
            email=ext.email,
            access_code=ext.code,
        )
    for staff in staff_signers:
        services.party_add(contract=contract, actor=sender, kind="staff", staff=staff)
    return contract


def enter_code(client: Client, link: str, code: str):
    return client.post(link, {"code": code})


BOX_RE = re.compile(r'<textarea hidden name="(box_\d+)">(.*?)</textarea>', re.S)


def agree(
    client: Client, link: str, code: str | None = None, values: dict[str, str] | None = None
) -> None:
    """Open the link, prove the code, read, fill the boxes, agree and complete, as a browser
    would. `values` maps box input names (box_<id>) to what the party types."""
    if code is not None:
        response = enter_code(client, link, code)
        assert response.status_code == 302, response.content.decode()[:2000]
    response = client.get(link + "documents/")
    assert response.status_code == 200, response.content.decode()[:2000]
    response = client.post(link + "confirm/", values or {})
    assert response.status_code == 200, response.content.decode()[:3000]
    page = response.content.decode()
    fields = dict(SHA_RE.findall(page))
    assert fields
    fields.update({name: html.unescape(value) for name, value in BOX_RE.findall(page)})
    response = client.post(link + "complete/", fields)
    assert response.status_code == 200, response.content.decode()[:2000]
    page = response.content.decode()
    assert "署名手続きが完了しました" in page or "承認が完了しました" in page


def approver(personas, username: str, name: str):
    """A staff member of the personas' organisation who may approve (事前承認)."""
    from keiyaku.accounts.models import Role
    from keiyaku.accounts.services import staff_create

    return staff_create(
        organisation=personas.org,
        username=username,
        password=personas.password,
        display_name=name,
        email=f"{username}@city.example.jp",
        department=personas.contracts_dept,
        roles=[Role.APPROVER],
    )


def completed_pdf(personas, externals: Sequence[External]) -> bytes:
    """The final PDF of a one-document contract that ``externals`` and the mayor signed."""
    from keiyaku.storage.blobs import blob_get

    contract = draft_contract(personas.sender, externals=externals, staff_signers=[personas.mayor])
    services.contract_send(contract=contract, actor=personas.sender)
    for signer in externals:
        agree(Client(), last_link(signer.email), signer.code)
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))
    contract.refresh_from_db()
    assert contract.status == "completed"
    return blob_get(contract.documents.get().current_version().blob)


@dataclass(frozen=True)
class Verified:
    """What `keiyaku verify` printed and its exit status."""

    returncode: int
    stdout: str
    stderr: str


def keiyaku_verify(path: Path, *args: str) -> Verified:
    """Run the `keiyaku verify` command on ``path`` in this process (its exit status, output).

    The command's code is the same as from a shell; running it here spares each call an
    interpreter and a validation fork server of its own (seconds). The entry point itself
    (``python -m keiyaku.cli verify``) runs as a subprocess in
    tests/signing/test_validation_budget.py.
    """
    out, err = StringIO(), StringIO()
    try:
        call_command("verify", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exited:
        code = exited.code if isinstance(exited.code, int) else 1
    else:
        code = 0
    return Verified(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def keiyaku_verify_at(when: dt.datetime, path: Path, *args: str) -> Verified:
    """Run ``python -m keiyaku.cli verify`` on ``path`` in a process whose clock reads ``when``
    (UTC), and so do its validation children: libfaketime (Debian's ``faketime``), since a
    clock moved in this process (time-machine) stops at the fork server's door. A verification
    in year 25 is then made as it will be then, not simulated from today (issue 13, R21)."""
    # An offset from now, not an absolute "@date": with a date, every process starts its clock
    # there anew, so the validation child would validate before the revocation data its parent
    # made a moment ago (and libfaketime reads the date in the local time zone).
    offset = f"{(when - dt.datetime.now(dt.UTC)).total_seconds():+.0f}s"
    # On the test's database: `keiyaku verify` reads the service certificates recorded there.
    env = on_test_database(FAKETIME_DONT_FAKE_MONOTONIC="1")  # the budget's deadline stays real
    done = subprocess.run(  # noqa: S603 - fixed arguments
        ["faketime", "-f", offset, sys.executable, "-m", "keiyaku.cli", "verify", str(path), *args],  # noqa: S607
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return Verified(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)
