"""Issue 16, acceptance 1: the walk-through of docs/api.md runs as written against a live
keiyaku (R40).

keiyaku runs as in production, in processes of its own: the web server (`keiyaku runserver`)
and a queue consumer (`keiyaku run_huey`) that signs and delivers webhooks. The documented
Python program (its code blocks, with "Verifying"'s `keiyaku_verify`) runs in a thread: it
creates the contract with its PDF, three parties and their boxes, sends it, starts its webhook
receiver on loopback and waits for the `completed` event. Meanwhile this test plays the
parties over plain HTTP: the two firms open their e-mailed links with their access codes, the
mayor logs in; each fills its boxes and signs. The program then downloads the signed PDF and
the certificate of completion, which pyHanko (through keiyaku) and poppler's pdfsig validate.
"""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path

import pytest

from keiyaku.contracts.models import Box, Contract, ContractStatus, Party
from keiyaku.signing.verification import verify_pdf
from keiyaku.webhooks import services as webhooks
from keiyaku.webhooks.models import WebhookDelivery
from tests.api.conftest import make_token
from tests.consumer_process import consumer_environment, consumers, wait_for
from tests.flow import BOX_RE, SHA_RE, mail_links
from tests.loopback_http import free_port
from tests.outside import pdfsig, qpdf_check
from tests.pdfs import make_pdf
from tests.web_process import Browser, web_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow(seconds=60)]

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ALLOW_LOOPBACK = "127.0.0.1/32"


def documented_program() -> dict:
    """The Python of the walk-through and of "Verifying", run as one module."""
    text = API_MD.read_text(encoding="utf-8")
    walk = text.split("### In Python", 1)[1].split("\n## ", 1)[0]
    verify = text.split("### Verifying", 1)[1]
    blocks = [re.search(r"```python\n(.*?)```", part, re.S).group(1) for part in (verify, walk)]
    namespace: dict = {"__name__": "keiyaku_walk_through"}
    exec(compile("\n".join(blocks), str(API_MD), "exec"), namespace)  # noqa: S102 - our docs
    return namespace


def sign(url: str, link: str, values: dict[str, str], *, code: str = "", login=None) -> None:
    """A party's round on the signing pages, as its browser sends it: the access code (or the
    staff member's login), the documents, the boxes filled in, the confirmation, the signature."""
    browser = Browser(url)
    if login is not None:
        assert browser.get("/login/").status == 200
        assert browser.post("/login/", login).status == 302
    if code:
        assert browser.get(link).status == 200
        answer = browser.post(link, {"code": code})
        assert answer.status == 302, answer.body[:2000]
    assert browser.get(link + "documents/").status == 200
    confirm = browser.post(link + "confirm/", values)
    assert confirm.status == 200, confirm.body[:2000]
    fields = dict(SHA_RE.findall(confirm.body))
    assert fields, confirm.body[:2000]
    fields.update({name: html.unescape(value) for name, value in BOX_RE.findall(confirm.body)})
    done = browser.post(link + "complete/", fields)
    assert done.status == 200 and "署名手続きが完了しました" in done.body, done.body[:2000]


def link_for(address: str, outcome: dict) -> str:
    """The link e-mailed to ``address`` once its turn has come (unless the program failed)."""
    wait_for(lambda: bool(mail_links(address)) or "error" in outcome, seconds=300)
    assert "error" not in outcome, outcome["error"]
    assert mail_links(address), f"no mail to {address}"
    return mail_links(address)[-1]


def test_the_documented_walk_through_runs_against_a_live_keiyaku(personas, settings, tmp_path):
    settings.KEIYAKU_OUTBOUND_ALLOW = [ALLOW_LOOPBACK]
    port = free_port()
    endpoint, secret = webhooks.webhook_endpoint_create(
        organisation=personas.org,
        actor=personas.admin,
        name="文書管理システム",
        url=f"http://127.0.0.1:{port}/keiyaku/webhook",
        events=["completed"],
    )
    token = make_token(personas.admin, scope="write", name="文書管理システム").secret
    pdf = tmp_path / "請負契約書.pdf"
    pdf.write_bytes(make_pdf(text="令和8年度 道路補修工事 請負契約書"))
    out = tmp_path / "受領"
    out.mkdir()
    program = documented_program()

    environment = consumer_environment(KEIYAKU_OUTBOUND_ALLOW=ALLOW_LOOPBACK)
    with web_process(**environment) as url, consumers(1, **environment) as (consumer,):
        outcome: dict = {}

        def integrator() -> None:
            try:
                outcome["saved"] = program["walk_through"](
                    url, token, secret, pdf, personas.mayor.pk, out, port, wait_seconds=400
                )
            except BaseException as error:  # noqa: BLE001 - re-raised below
                outcome["error"] = error

        running = threading.Thread(target=integrator)
        running.start()
        # The parties, in the documented order, each once its turn has come.
        sign(
            url,
            link_for("takahashi@example.jp", outcome),
            {box_name("住所（髙橋建設）"): "札幌市中央区北1条西2丁目"},
            code="2468",
        )
        sign(
            url,
            link_for("sato@example.jp", outcome),
            {
                box_name("住所（札幌設備）"): "札幌市北区北8条西5丁目",
                box_name("暴力団排除の誓約"): "1",
            },
            code="1357",
        )
        sign(
            url,
            link_for(personas.mayor.email, outcome),
            {box_name("契約締結日"): "2026-04-01"},
            login={"username": "mayor", "password": personas.password},
        )
        running.join(timeout=600)
        assert not running.is_alive(), consumer.log()[-3000:]
    assert "error" not in outcome, (outcome.get("error"), consumer.log()[-3000:])

    contract = Contract.objects.get()
    assert contract.status == ContractStatus.COMPLETED
    parties = contract.parties.order_by("position")
    assert [(p.kind, p.email) for p in parties] == [
        ("external", "takahashi@example.jp"),
        ("external", "sato@example.jp"),
        ("staff", personas.mayor.email),
    ]
    values = {box.label: box.value for box in Box.objects.filter(document__contract=contract)}
    assert values == {
        "住所（髙橋建設）": "札幌市中央区北1条西2丁目",
        "住所（札幌設備）": "札幌市北区北8条西5丁目",
        "暴力団排除の誓約": "1",
        "契約締結日": "2026-04-01",
    }
    # The completion webhook reached the program's receiver, whose signature check passed
    # (it answers 400 to a request that fails it, and the program waits for a verified one).
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="completed")
    attempts = list(delivery.attempt_log.all())
    assert [a.status_code for a in attempts] == [204]

    signed, certificate = outcome["saved"]
    assert signed.name == "署名済み_請負契約書.pdf" and certificate.name == "締結証明書.pdf"
    report = verify_pdf(signed.read_bytes())
    assert report.ok and report.ltv_ok, report.as_dict()
    signatures = [s for s in report.signatures if s.kind == "signature"]
    assert len(signatures) == Party.objects.filter(contract=contract).count() == 3
    outside = pdfsig(signed.read_bytes())
    assert len([s for s in outside if not s["is_document_timestamp"]]) == 3
    qpdf_check(signed.read_bytes())
    assert verify_pdf(certificate.read_bytes()).ok


def box_name(label: str) -> str:
    """The form field of the box with this label (the party's page names it so)."""
    return f"box_{Box.objects.get(label=label).pk}"
