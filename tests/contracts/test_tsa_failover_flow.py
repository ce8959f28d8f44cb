"""Issue 13, acceptance 3: two TSAs configured, the second behind HTTP Basic credentials and a
TLS client certificate. The first down, then returning tokens with a wrong nonce: every
signature's token comes from the second. Every TSA down: the agreement is kept, no stored
version carries a signature without a timestamp, the job waits with back-off, and the contract
completes once a TSA returns. Final PDFs are checked by pyHanko, pdfsig and openssl ts.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from io import BytesIO

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from keiyaku.accounts.models import Staff
from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus, DocumentVersion, PartyStatus, VersionKind
from keiyaku.contracts.services import signature_sweep
from keiyaku.pki.service import get_authority
from keiyaku.signing import engine
from keiyaku.signing.keys import get_service_signer
from keiyaku.signing.models import TsaStatus
from keiyaku.signing.verification import verify_pdf
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, draft_contract, last_link
from tests.outside import (
    openssl_verify_timestamps,
    pdfsig,
    signatures_without_timestamp,
    timestamp_signers,
)
from tests.pdfs import make_pdf
from tests.servers.rfc3161_tsa import (
    TlsFiles,
    TsaIdentity,
    closed_port,
    running_tsa,
    tls_files,
    tsa_identity_under,
)

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = External("株式会社一番", "一番 太郎", "ichiban@example.jp", "1111")
SECOND = External("株式会社二番", "二番 花子", "niban@example.jp", "2222")
USER, PASSWORD = "city-of-test", "tsa-pass-1"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return tls_files(tmp_path_factory.mktemp("tsa-tls"))


@pytest.fixture(scope="module")
def liar_identity() -> TsaIdentity:
    """A TSA certificate from keiyaku's own root: trusted, so only its nonce is wrong."""
    authority = get_authority()
    return tsa_identity_under(authority.root_cert, authority.private_key("root"), "Test TSA 1")


def second_tsa_settings(settings, first_url: str, second_url: str, tls: TlsFiles) -> None:
    settings.KEIYAKU_TSA_URLS = [first_url, second_url]
    settings.KEIYAKU_TSA_CREDENTIALS = {
        2: {
            "username": USER,
            "password": PASSWORD,
            "client_cert": str(tls.client_bundle),
            "ca_file": str(tls.ca_file),
        }
    }
    settings.KEIYAKU_TSA_TIMEOUT = 5


def operator_page() -> str:
    staff = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-operator-1")
    client = Client()
    client.force_login(staff)
    return client.get("/operator/status/").content.decode()


def stored_pdfs(contract) -> list[bytes]:
    return [
        blob_get(version.blob)
        for version in DocumentVersion.objects.filter(document__contract=contract)
    ]


def assert_valid_and_stamped_by_keiyaku(pdf: bytes, signatures: int) -> None:
    authority = get_authority()
    keiyaku_tsa = authority.tsa_cert.subject.native["common_name"]
    signers_seen = timestamp_signers(pdf)
    assert len(signers_seen) == signatures + 1  # each signature's token, the document timestamp
    assert {cn for _where, cn in signers_seen} == {keiyaku_tsa}, signers_seen
    report = verify_pdf(pdf)
    assert report.ok and report.ltv_ok, report.as_dict()
    assert len([s for s in pdfsig(pdf) if not s["is_document_timestamp"]]) == signatures
    assert openssl_verify_timestamps(pdf, authority.root_pem(), authority.tsa_cert.dump()) == (
        signatures + 1
    )


@pytest.mark.slow(seconds=6)
def test_signatures_come_from_the_second_tsa_while_the_first_is_down_then_lies(
    personas, settings, tls, liar_identity
) -> None:
    authority = get_authority()
    with (
        running_tsa(authority, username=USER, password=PASSWORD, tls=tls) as second,
        running_tsa(liar_identity, misbehaviour="wrong_nonce") as liar,
    ):
        down = f"http://127.0.0.1:{closed_port()}/tsa"
        second_tsa_settings(settings, down, second.url, tls)
        contract = draft_contract(personas.sender, externals=[FIRST, SECOND])
        services.contract_send(contract=contract, actor=personas.sender)
        agree(Client(), last_link(FIRST.email), FIRST.code)  # the first TSA refuses connections
        assert contract.parties.get(email=FIRST.email).status == PartyStatus.SIGNED

        settings.KEIYAKU_TSA_URLS = [liar.url, second.url]  # it answers, with a wrong nonce
        agree(Client(), last_link(SECOND.email), SECOND.code)
        contract.refresh_from_db()
        assert contract.status == ContractStatus.COMPLETED
        final = blob_get(contract.documents.get().current_version().blob)
        ready = Client().get("/readyz").json()["checks"]["tsa"]
        page = operator_page()

    assert liar.requests, "the lying TSA was asked"
    assert {r["client"] for r in second.requests} == {"keiyaku"}
    assert_valid_and_stamped_by_keiyaku(final, signatures=2)
    # Every failure was recorded, the finalising child's too.
    rows = {row.url: row for row in TsaStatus.objects.all()}
    assert (rows[down].failures, rows[down].last_failure_reason) == (1, "connection")
    assert (rows[liar.url].failures, rows[liar.url].last_failure_reason) == (
        len(liar.requests),
        "wrong_nonce",
    )
    assert rows[second.url].successes == len(second.requests) and not rows[second.url].failures

    assert ready["status"] == "warn" and ready["detail"] == "a time-stamp authority is failing"
    assert [(t["position"], t["last_failure_reason"]) for t in ready["tsas"]] == [
        (1, "wrong_nonce"),
        (2, ""),
    ]
    assert ready["tsas"][1]["last_success"] and "127.0.0.1" not in str(ready)
    assert 'id="tsa-1" data-state="failing"' in page and "<code>wrong_nonce</code>" in page
    assert 'id="tsa-2" data-state="ok"' in page
    assert page.count('id="tsa-states"') == 1  # one table, each id once


def test_with_every_tsa_down_the_agreement_waits_and_completes_when_one_returns(
    personas, settings, tls
) -> None:
    authority = get_authority()
    first_port, second_port = closed_port(), closed_port()
    second_url = f"https://127.0.0.1:{second_port}/tsa"
    second_tsa_settings(settings, f"http://127.0.0.1:{first_port}/tsa", second_url, tls)
    HUEY.storage.flush_schedule()
    contract = draft_contract(personas.sender, externals=[FIRST])
    services.contract_send(contract=contract, actor=personas.sender)

    agree(Client(), last_link(FIRST.email), FIRST.code)  # the party sees success: it is recorded
    party = contract.parties.get()
    assert party.status == PartyStatus.AGREED and party.agreed_at
    assert not DocumentVersion.objects.filter(
        document__contract=contract, kind=VersionKind.SIGNED
    ).exists()
    assert all(signatures_without_timestamp(pdf) == [] for pdf in stored_pdfs(contract))
    # The job waits to try again (it does not use up its retries); the sweep leaves it be.
    waiting = HUEY.scheduled()
    assert [task.name.rsplit(".", 1)[-1] for task in waiting] == ["apply_signature"]
    delay = waiting[0].eta - dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert timedelta(seconds=20) < delay <= timedelta(seconds=31)
    assert signature_sweep(older_than=timedelta(0)) == 0
    ready = Client().get("/readyz").json()["checks"]["tsa"]
    assert ready["detail"] == "every time-stamp authority is failing"
    assert [t["last_failure_reason"] for t in ready["tsas"]] == ["connection", "connection"]
    page = operator_page()
    assert 'id="tsa-1" data-state="failing"' in page and 'id="tsa-2" data-state="failing"' in page

    with running_tsa(authority, username=USER, password=PASSWORD, tls=tls, port=second_port):
        later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + delay
        for task in HUEY.read_schedule(later):
            HUEY.execute(task, later)  # the retry, when its time comes

    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    assert all(signatures_without_timestamp(pdf) == [] for pdf in stored_pdfs(contract))
    assert_valid_and_stamped_by_keiyaku(
        blob_get(contract.documents.get().current_version().blob), signatures=1
    )
    assert TsaStatus.objects.get(url=second_url).failing_since is None


def test_the_check_for_signatures_without_a_timestamp_finds_one() -> None:
    """The check above can fail: a signature made without a TSA is found."""
    prepared = engine.prepare(make_pdf(), field_names=["keiyaku-party-01"])
    out = BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="keiyaku-party-01"),
        signer=get_service_signer().signer,
    ).sign_pdf(IncrementalPdfFileWriter(BytesIO(prepared)), output=out)
    assert signatures_without_timestamp(out.getvalue()) == ["keiyaku-party-01"]
