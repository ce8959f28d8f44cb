"""Issue 10, findings 2, 7, 8 through the real flow: each old-form input is uploaded, sent
(「送信」), agreed by two parties and completed, and the real `keiyaku verify` says OK. Before
the ingest proof, each verified NG, ran for ever, or made 「送信」 fail."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.models import ContractStatus
from keiyaku.contracts.services.drafting import Upload
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, keiyaku_verify, last_link
from tests.pdf_corpus import all_kinds

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

KINDS = {
    name: kind
    for name, kind in all_kinds().items()
    if kind.make.__module__ == "tests.pdf_corpus.forms" and kind.expect == "complete"
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_the_form_kind_completes_and_keiyaku_verify_says_ok(name, personas, tmp_path):
    kind = KINDS[name]
    ext = External(company="株式会社テスト建設", name="署名 太郎", email="t@firm.example.jp")
    contract = services.contract_create(
        actor=personas.sender,
        title="令和8年度 道路補修工事 請負契約",
        uploads=[Upload(filename=f"{name}.pdf", data=kind.make())],
    )
    document = contract.documents.get()
    assert sorted(document.ingest_changes) == sorted(kind.changes)
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=ext.company,
        name=ext.name,
        email=ext.email,
        access_code=ext.code,
    )
    services.party_add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(ext.email), ext.code)
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))

    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED
    path = tmp_path / "final.pdf"
    path.write_bytes(blob_get(document.current_version().blob))
    result = keiyaku_verify(path)
    assert result.returncode == 0, result.stdout + result.stderr
