"""Electronic sureties and attachments (R32): recorded in any state by staff who may change the
contract, the 認証キー sealed and shown only to readers of the contract, attachments kept apart
from the signed documents, served only as downloads, found by 保証契約番号, exported."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.contracts.list_page import contract_list_page
from keiyaku.contracts.models import Attachment, Contract, ContractStatus, Surety, SuretyKind
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.services import sureties
from keiyaku.contracts.services.drafting import Upload
from keiyaku.refusals import NotAllowed
from keiyaku.storage import crypto
from keiyaku.storage.blobs import blob_get
from tests.flow import draft_contract
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

NOTICE = make_pdf(text="認証キーのお知らせ 保証契約番号 第12-3456号")
KEY = "K7Q2-9XR4-PL3M"
ADVANCE = sureties.SuretyValues(
    kind=SuretyKind.ADVANCE_PAYMENT,
    issuer="東日本建設業保証株式会社",
    number="第１２－３４５６号",
    auth_key=KEY,
    amount=4_000_000,
)


def _login(who) -> Client:
    client = Client()
    client.force_login(who)
    return client


def _concluded(personas) -> Contract:
    contract = draft_contract(personas.sender, title="令和8年度 橋梁補修工事")
    # A surety usually arrives after conclusion; the state is what matters here.
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.COMPLETED)
    contract.refresh_from_db()
    return contract


def test_a_surety_with_its_notice_after_conclusion_seals_the_key_and_audits_without_it(personas):
    contract = _concluded(personas)
    surety = sureties.surety_add(
        contract=contract,
        actor=personas.sender,
        values=ADVANCE,
        notice=Upload(filename="認証キーのお知らせ.pdf", data=NOTICE),
    )
    stored = Surety.objects.get(pk=surety.pk)
    assert KEY not in stored.auth_key_sealed and stored.auth_key_sealed.startswith("v2:")
    assert sureties.surety_auth_key(stored) == KEY
    with pytest.raises(crypto.SealBroken):  # sealed for its own purpose only
        crypto.open_text(stored.auth_key_sealed, purpose=crypto.TOTP_PURPOSE)
    assert stored.number_normalised == "第123456号"
    assert stored.notice is not None and blob_get(stored.notice.blob) == NOTICE
    assert stored.notice.contract_id == contract.pk
    # The contract's documents are untouched: the notice is not one of them.
    assert [d.filename for d in contract.documents.all()] == ["契約書1.pdf"]
    entry = Event.objects.get(event="contract.surety_add")
    assert entry.detail["number"] == "第１２－３４５６号" and entry.detail["auth_key"] is True
    assert KEY not in json.dumps(entry.detail, ensure_ascii=False)
    # Two sureties on one contract: a 契約保証 too.
    sureties.surety_add(
        contract=contract,
        actor=personas.sender,
        values=sureties.SuretyValues(
            kind=SuretyKind.PERFORMANCE, issuer="西日本建設業保証株式会社", number="P-777"
        ),
    )
    assert contract.sureties.count() == 2


def test_only_staff_who_may_change_the_contract_add_and_outsiders_get_404(personas):
    contract = _concluded(personas)
    for who in (personas.viewer, personas.outsider):
        with pytest.raises(NotAllowed):
            sureties.surety_add(contract=contract, actor=who, values=ADVANCE)
        with pytest.raises(NotAllowed):
            sureties.attachment_add(
                contract=contract, actor=who, upload=Upload(filename="a.pdf", data=NOTICE)
            )
    attachment = sureties.attachment_add(
        contract=contract, actor=personas.sender, upload=Upload(filename="保証書.pdf", data=NOTICE)
    )
    url = f"/contracts/{contract.pk}/attachments/{attachment.pk}/"
    outsider = _login(personas.outsider)
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"/contracts/{contract.pk}/").status_code == 404
    assert outsider.post(f"/contracts/{contract.pk}/sureties/", {}).status_code == 404
    # Another department's sender cannot see it either.
    other = personas.mayor
    assert _login(other).get(url).status_code == 404


def test_the_attachment_is_only_ever_a_pdf_download(personas):
    contract = _concluded(personas)
    attachment = sureties.attachment_add(
        contract=contract, actor=personas.sender, upload=Upload(filename="保証書.pdf", data=NOTICE)
    )
    response = _login(personas.viewer).get(f"/contracts/{contract.pk}/attachments/{attachment.pk}/")
    assert response.status_code == 200 and response.content == NOTICE
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert Event.objects.filter(event="attachment.download", actor=personas.viewer).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "添付するPDFを選択してください"),  # the form refuses an empty file
        (b"<html><script>alert(1)</script></html>", "PDFファイルではありません"),
    ],
)
def test_what_is_not_a_pdf_is_refused_in_japanese(personas, data, message):
    contract = _concluded(personas)
    client = _login(personas.sender)
    upload = io.BytesIO(data)
    upload.name = "notice.pdf"
    response = client.post(f"/contracts/{contract.pk}/attachments/", {"file": upload}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert not Attachment.objects.exists()
    # On the surety form the refusal keeps what was typed (400), the key included.
    notice = io.BytesIO(b"not a pdf at all")
    notice.name = "notice.pdf"
    refused = client.post(
        f"/contracts/{contract.pk}/sureties/",
        {
            "kind": SuretyKind.ADVANCE_PAYMENT,
            "issuer": "東日本建設業保証株式会社",
            "number": "12-3456",
            "auth_key": KEY,
            "notice": notice,
        },
    )
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "PDFファイルではありません" in text and KEY in text
    assert not Surety.objects.exists() and not Attachment.objects.exists()


def test_an_amount_past_any_contracts_is_refused_in_japanese_not_a_500(personas):
    """The amount's bound is the service's (drafting.MAX_AMOUNT), whatever the form accepts."""
    contract = _concluded(personas)
    client = Client()
    client.force_login(personas.sender)
    refused = client.post(
        f"/contracts/{contract.pk}/sureties/",
        {
            "kind": SuretyKind.ADVANCE_PAYMENT,
            "issuer": "東日本建設業保証株式会社",
            "number": "12-3456",
            "amount": "1" * 21,
        },
    )
    assert refused.status_code == 400
    assert "保証金額が大きすぎます" in refused.content.decode()
    assert not Surety.objects.exists()


def test_too_large_is_refused(personas, settings):
    contract = _concluded(personas)
    settings.KEIYAKU_MAX_FILE_BYTES = 1000
    with pytest.raises(sureties.ContractError) as refused:
        sureties.attachment_add(
            contract=contract, actor=personas.sender, upload=Upload(filename="a.pdf", data=NOTICE)
        )
    assert refused.value.code == "too_large" and "上限" in refused.value.message


def _found(staff, conditions: SearchConditions) -> set:
    return {row.contract.pk for row in contract_list_page(staff, size=500, search=conditions).rows}


def test_found_by_its_surety_number_whole_or_in_part_whatever_the_width(personas):
    contract = _concluded(personas)
    other = draft_contract(personas.sender, title="別の工事")
    sureties.surety_add(contract=contract, actor=personas.sender, values=ADVANCE)
    sureties.surety_add(
        contract=other,
        actor=personas.sender,
        values=sureties.SuretyValues(kind=SuretyKind.PERFORMANCE, issuer="X保証", number="99-1"),
    )
    for typed in ("第12-3456号", "１２３４５６", "12 34", "3456", "第１２－３４５６号"):
        assert _found(personas.admin, SearchConditions(surety_number=typed)) == {contract.pk}
    assert _found(personas.admin, SearchConditions(surety_number="99")) == {other.pk}
    assert _found(personas.admin, SearchConditions(surety_number="77777")) == set()
    # Combined (AND) with another condition, and never beyond what one sees.
    assert _found(personas.admin, SearchConditions(surety_number="3456", title="別の")) == set()
    assert _found(personas.mayor, SearchConditions(surety_number="3456")) == set()
    # The list screen's field.
    page = _login(personas.sender).get("/", {"surety_number": "１２－３４５６"}).content.decode()
    assert "令和8年度 橋梁補修工事" in page and "別の工事" not in page


def test_the_organisations_export_holds_the_attachments_and_sureties(personas):
    contract = draft_contract(personas.sender, title="下書きの工事")
    sureties.surety_add(
        contract=contract,
        actor=personas.sender,
        values=ADVANCE,
        notice=Upload(filename="認証キーのお知らせ.pdf", data=NOTICE),
    )
    response = _login(personas.admin).post("/admin-org/export/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    [name] = [n for n in archive.namelist() if n.endswith("/添付_認証キーのお知らせ.pdf")]
    assert hashlib.sha256(archive.read(name)).hexdigest() == hashlib.sha256(NOTICE).hexdigest()
    record = next(
        r
        for r in json.loads(archive.read("契約一覧.json"))["contracts"]
        if r["id"] == str(contract.pk)
    )
    [surety] = record["sureties"]
    assert (surety["kind"], surety["number"], surety["auth_key"]) == (
        SuretyKind.ADVANCE_PAYMENT,
        "第１２－３４５６号",
        KEY,
    )
    assert surety["notice"] == name
    [attachment] = record["attachments"]
    assert attachment["file"] == name and attachment["filename"] == "認証キーのお知らせ.pdf"
    assert attachment["sha256"] == hashlib.sha256(NOTICE).hexdigest()
    assert attachment["removed"] is None and surety["removed"] is None
    assert surety["corrections"] == []
