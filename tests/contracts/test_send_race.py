"""Acceptance 5: a draft edit that races with 「送信」 never leaves a party or box without its field.

`contract_send` prepares the PDFs (one signature field per signer, one field per box) before
its transaction. A box or a party added meanwhile, from another connection, must end up in
the prepared PDF or be refused; an edit that arrives after the state changed is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from io import BytesIO

import pytest
from django.db import connection
from pyhanko.pdf_utils.reader import PdfFileReader

from keiyaku.accounts.models import Staff
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import (
    Box,
    Contract,
    ContractStatus,
    Document,
    DocumentVersion,
    Party,
    PartyRole,
    VersionKind,
)
from keiyaku.contracts.services import drafting
from keiyaku.contracts.services.boxes import box_create
from keiyaku.storage.blobs import blob_get
from keiyaku.storage.models import Blob
from tests.flow import External, draft_contract

pytestmark = pytest.mark.django_db(transaction=True)

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("㈱佐藤工業", "佐藤 次郎", "sato@example.jp", "2222")


class Elsewhere(threading.Thread):
    """Runs one service call on its own thread, hence its own database connection."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.started_call = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.started_call.set()
            self.result = self.call()
        except BaseException as exc:  # reported to the test thread
            self.error = exc
        finally:
            connection.close()


def add_box(contract: Contract, sender) -> Callable[[], object]:
    """Another request places a box: it reads its own rows, as a view would."""

    def call() -> object:
        document = Document.objects.get(contract_id=contract.pk)
        party = Party.objects.get(contract_id=contract.pk)
        return box_create(
            document=document,
            actor=Staff.objects.get(pk=sender.pk),
            data={"page": 1, "x": 60, "y": 600, "width": 200, "height": 22, "party": party.pk},
        )

    return call


def add_party(contract: Contract, sender) -> Callable[[], object]:
    """Another request adds a signer, reading its own rows."""

    def call() -> object:
        return services.party_add(
            contract=Contract.objects.get(pk=contract.pk),
            actor=Staff.objects.get(pk=sender.pk),
            kind="external",
            company=B.company,
            name=B.name,
            email=B.email,
            access_code=B.code,
        )

    return call


EDITS = {"box": add_box, "party": add_party}


def field_names(pdf: bytes) -> set[str]:
    reader = PdfFileReader(BytesIO(pdf))
    return {str(ref.get_object()["/T"]) for ref in reader.root["/AcroForm"]["/Fields"]}


def assert_every_party_and_box_has_its_field(contract: Contract) -> None:
    contract.refresh_from_db()
    assert contract.status == ContractStatus.IN_PROGRESS
    signers = list(contract.parties.filter(role=PartyRole.SIGNER))
    assert signers
    for document in contract.documents.all():
        prepared = document.versions.get(kind=VersionKind.PREPARED)
        names = field_names(blob_get(prepared.blob))
        for party in signers:
            assert party.signature_field in names, party.signature_field
        for box in document.boxes.all():
            assert box.field_name in names, box.field_name


def contract_with_one_signer(personas) -> Contract:
    return draft_contract(personas.sender, externals=[A])


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_while_the_pdfs_are_prepared_makes_the_send_start_again(
    personas, monkeypatch, edit
):
    contract = contract_with_one_signer(personas)
    racer = Elsewhere(EDITS[edit](contract, personas.sender))
    real_prepare = drafting.prepare_for_sending

    def prepare_while_editing(*args, **kwargs):
        # The edit runs to its commit between the send's reading and its final transaction.
        if racer.ident is None:
            racer.start()
            racer.join(timeout=30)
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(drafting, "prepare_for_sending", prepare_while_editing)
    blobs = Blob.objects.count()
    with pytest.raises(ContractError) as refused:
        services.contract_send(contract=contract, actor=personas.sender)
    assert refused.value.code == "changed_while_sending"
    assert "もう一度送信してください" in refused.value.message
    assert racer.error is None and racer.result is not None  # the edit itself was fine

    # Nothing of the refused send is kept: still a draft, no prepared version, no blob.
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert not DocumentVersion.objects.filter(
        document__contract=contract, kind=VersionKind.PREPARED
    ).exists()
    assert Blob.objects.count() == blobs

    # Sent again, the edit is in the PDF.
    services.contract_send(contract=contract, actor=personas.sender)
    assert contract.parties.count() == (2 if edit == "party" else 1)
    assert Box.objects.filter(document__contract=contract).count() == (1 if edit == "box" else 0)
    assert_every_party_and_box_has_its_field(contract)


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_arriving_after_the_state_changed_is_refused(personas, monkeypatch, edit):
    contract = contract_with_one_signer(personas)
    racer = Elsewhere(EDITS[edit](contract, personas.sender))
    real_advance = drafting.advance

    def advance_while_editing(sent: Contract, **kwargs: object) -> None:
        # Inside the send's final transaction, after the state changed: the edit waits for
        # the lock and then finds the contract sent.
        racer.start()
        racer.started_call.wait(timeout=10)
        time.sleep(0.3)
        real_advance(sent, **kwargs)

    monkeypatch.setattr(drafting, "advance", advance_while_editing)
    services.contract_send(contract=contract, actor=personas.sender)
    racer.join(timeout=30)
    assert not racer.is_alive()
    assert isinstance(racer.error, ContractError), racer.error
    assert racer.error.code == "not_draft"
    assert contract.parties.count() == 1
    assert not Box.objects.filter(document__contract=contract).exists()
    assert_every_party_and_box_has_its_field(contract)
