"""Corrections and removals of sureties and attachments (R32; 電子帳簿保存法's 訂正削除の履歴):
any state, only by staff who may change the contract, never destroyed (previous values and
removed rows kept with who, when and why), audited with old and new values but never the
認証キー, search by 保証契約番号 finds only current values, and the organisation's export (R34)
carries the history."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.test import Client

from keiyaku.audit.models import Event
from keiyaku.contracts.list_page import contract_list_page
from keiyaku.contracts.models import (
    Attachment,
    Contract,
    ContractStatus,
    Surety,
    SuretyCorrection,
    SuretyKind,
)
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.services import corrections, sureties
from keiyaku.contracts.services.drafting import Upload
from keiyaku.contracts.surety_history import contract_history
from keiyaku.refusals import NotAllowed
from keiyaku.storage.blobs import blob_get
from tests.flow import draft_contract
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

NOTICE = make_pdf(text="認証キーのお知らせ 保証契約番号 12-3456")
RIGHT_NOTICE = make_pdf(text="認証キーのお知らせ 保証契約番号 12-3465")
OLD_KEY = "K7Q2-9XR4-PL3M"
NEW_KEY = "Z9Y8-X7W6-V5U4"
TYPED = sureties.SuretyValues(
    kind=SuretyKind.ADVANCE_PAYMENT,
    issuer="東日本建設業保証株式会社",
    number="12-3456",
    auth_key=OLD_KEY,
    amount=4_000_000,
)
RIGHT = sureties.SuretyValues(
    kind=SuretyKind.ADVANCE_PAYMENT,
    issuer="東日本建設業保証株式会社",
    number="12-3465",
    auth_key=NEW_KEY,
    amount=4_200_000,
)


def _concluded(personas, title="令和8年度 橋梁補修工事") -> Contract:
    contract = draft_contract(personas.sender, title=title)
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.COMPLETED)
    contract.refresh_from_db()
    return contract


def _surety(personas, contract: Contract, notice: bytes | None = NOTICE) -> Surety:
    return sureties.surety_add(
        contract=contract,
        actor=personas.sender,
        values=TYPED,
        notice=Upload(filename="認証キーのお知らせ.pdf", data=notice) if notice else None,
    )


def _found(staff, number: str) -> set:
    search = SearchConditions(surety_number=number)
    return {row.contract.pk for row in contract_list_page(staff, size=500, search=search).rows}


def _no_key_in_audit() -> None:
    logged = json.dumps([e.detail for e in Event.objects.all()], ensure_ascii=False)
    assert OLD_KEY not in logged and NEW_KEY not in logged


def test_a_correction_keeps_the_previous_values_and_search_finds_only_the_new_number(personas):
    contract = _concluded(personas)
    surety = _surety(personas, contract, notice=None)
    assert _found(personas.sender, "12-3456") == {contract.pk}

    corrected = corrections.surety_correct(
        surety=surety,
        actor=personas.sender,
        values=RIGHT,
        reason="番号の入力誤り",
        corrections_seen=0,
    )
    assert (corrected.number, corrected.number_normalised, corrected.amount) == (
        "12-3465",
        "123465",
        4_200_000,
    )
    assert sureties.surety_auth_key(Surety.objects.get(pk=surety.pk)) == NEW_KEY
    [kept] = SuretyCorrection.objects.filter(surety=surety)
    assert (kept.number, kept.amount, kept.corrected_by, kept.reason) == (
        "12-3456",
        4_000_000,
        personas.sender,
        "番号の入力誤り",
    )
    # The previous 認証キー is kept sealed, not in clear.
    assert OLD_KEY not in kept.auth_key_sealed and kept.auth_key_sealed.startswith("v2:")

    entry = Event.objects.get(event="contract.surety_correct")
    assert entry.detail["changes"]["number"] == {"before": "12-3456", "after": "12-3465"}
    assert entry.detail["changes"]["amount"] == {"before": 4_000_000, "after": 4_200_000}
    assert entry.detail["changes"]["auth_key"] == {"before": True, "after": True}
    assert "issuer" not in entry.detail["changes"] and entry.detail["reason"] == "番号の入力誤り"
    _no_key_in_audit()

    # Search by 保証契約番号 sees only the current value.
    assert _found(personas.sender, "12-3456") == set()
    assert _found(personas.sender, "１２－３４６５") == {contract.pk}

    [line] = contract_history(contract).corrections
    assert {c.label: (c.before, c.after) for c in line.changes} == {
        "保証契約番号": ("12-3456", "12-3465"),
        "保証金額": ("4,000,000 円", "4,200,000 円"),
        "認証キー": ("設定あり", "変更"),
    }


def test_a_new_notice_replaces_the_old_one_which_stays_as_history(personas):
    contract = draft_contract(personas.sender, title="下書きの工事")  # any state: a draft too
    surety = _surety(personas, contract)
    old_notice = surety.notice
    assert old_notice is not None
    corrections.surety_correct(
        surety=surety,
        actor=personas.sender,
        values=TYPED,
        reason="別の工事のお知らせを添付していた",
        notice=Upload(filename="認証キーのお知らせ（正）.pdf", data=RIGHT_NOTICE),
    )
    surety.refresh_from_db()
    assert surety.notice is not None and blob_get(surety.notice.blob) == RIGHT_NOTICE
    old_notice.refresh_from_db()
    assert old_notice.is_removed and old_notice.removed_reason == "別の工事のお知らせを添付していた"
    assert blob_get(old_notice.blob) == NOTICE  # kept, not destroyed
    assert [a.filename for a in contract.attachments.current()] == ["認証キーのお知らせ（正）.pdf"]
    history = contract_history(contract)
    [change] = history.corrections[0].changes
    assert change.before_sha256 == hashlib.sha256(NOTICE).hexdigest()
    assert change.after_sha256 == hashlib.sha256(RIGHT_NOTICE).hexdigest()
    assert history.removed_attachments == [old_notice]
    detail = Event.objects.get(event="contract.surety_correct").detail
    assert detail["changes"]["notice"]["before"]["sha256"] == hashlib.sha256(NOTICE).hexdigest()


def test_a_removed_surety_is_kept_marked_and_its_number_no_longer_finds_the_contract(personas):
    contract = _concluded(personas)
    surety = _surety(personas, contract)
    removed = corrections.surety_remove(
        surety=surety, actor=personas.sender, reason="別の案件に登録していた"
    )
    assert removed.is_removed and removed.removed_by == personas.sender
    assert removed.removed_reason == "別の案件に登録していた"
    assert Surety.objects.filter(pk=surety.pk).exists()  # never deleted
    # Its notice goes with it, kept too.
    assert removed.notice is not None and removed.notice.is_removed
    assert blob_get(removed.notice.blob) == NOTICE
    assert not contract.sureties.current().exists() and not contract.attachments.current().exists()
    assert _found(personas.sender, "12-3456") == set()
    assert _found(personas.admin, "3456") == set()
    entry = Event.objects.get(event="contract.surety_remove")
    assert (entry.detail["number"], entry.detail["auth_key"], entry.detail["reason"]) == (
        "12-3456",
        True,
        "別の案件に登録していた",
    )
    assert entry.detail["notice"]["sha256"] == hashlib.sha256(NOTICE).hexdigest()
    _no_key_in_audit()
    assert contract_history(contract).removed_sureties == [removed]

    with pytest.raises(sureties.ContractError) as again:
        corrections.surety_remove(surety=surety, actor=personas.sender, reason="二度目")
    assert again.value.code == "already_removed" and "すでに削除" in again.value.message
    with pytest.raises(sureties.ContractError) as late:
        corrections.surety_correct(surety=surety, actor=personas.sender, values=RIGHT, reason="x")
    assert late.value.code == "removed"


def test_a_removed_attachment_keeps_its_file_and_frees_its_place(personas, settings):
    contract = _concluded(personas)
    settings.KEIYAKU_MAX_FILES = 1
    wrong = sureties.attachment_add(
        contract=contract, actor=personas.sender, upload=Upload(filename="誤り.pdf", data=NOTICE)
    )
    with pytest.raises(sureties.ContractError):
        sureties.attachment_add(
            contract=contract, actor=personas.sender, upload=Upload(filename="b.pdf", data=NOTICE)
        )
    corrections.attachment_remove(
        attachment=wrong, actor=personas.sender, reason="別の工事の保証書"
    )
    wrong.refresh_from_db()
    assert wrong.is_removed and blob_get(wrong.blob) == NOTICE
    sureties.attachment_add(
        contract=contract, actor=personas.sender, upload=Upload(filename="正.pdf", data=NOTICE)
    )
    assert [a.filename for a in contract.attachments.current()] == ["正.pdf"]
    assert contract_history(contract).removed_attachments == [wrong]
    entry = Event.objects.get(event="contract.attachment_remove")
    assert entry.detail == {
        "attachment": wrong.pk,
        "filename": "誤り.pdf",
        "size": len(NOTICE),
        "sha256": hashlib.sha256(NOTICE).hexdigest(),
        "reason": "別の工事の保証書",
    }
    with pytest.raises(sureties.ContractError) as again:
        corrections.attachment_remove(attachment=wrong, actor=personas.sender, reason="もう一度")
    assert again.value.code == "already_removed"


@pytest.mark.parametrize(
    ("reason", "code", "message"),
    [
        ("  ", "reason_required", "訂正の理由を入力してください"),
        ("x" * 1001, "reason_too_long", "1000文字以内"),
        ("誤り\u202e", "control_character", "制御文字"),
    ],
)
def test_a_correction_without_a_proper_reason_is_refused_in_japanese(
    personas, reason, code, message
):
    surety = _surety(personas, _concluded(personas), notice=None)
    with pytest.raises(sureties.ContractError if code != "control_character" else Exception) as e:
        corrections.surety_correct(
            surety=surety, actor=personas.sender, values=RIGHT, reason=reason
        )
    assert e.value.code == code and message in e.value.message  # type: ignore[attr-defined]
    assert not SuretyCorrection.objects.exists()
    assert Surety.objects.get(pk=surety.pk).number == "12-3456"


def test_nothing_changed_or_changed_meanwhile_is_refused(personas):
    surety = _surety(personas, _concluded(personas), notice=None)
    with pytest.raises(sureties.ContractError) as same:
        corrections.surety_correct(surety=surety, actor=personas.sender, values=TYPED, reason="x")
    assert same.value.code == "no_change"
    corrections.surety_correct(
        surety=surety, actor=personas.admin, values=RIGHT, reason="先に訂正", corrections_seen=0
    )
    # A second clerk who opened the form before that correction does not overwrite it unseen.
    with pytest.raises(sureties.ContractError) as stale:
        corrections.surety_correct(
            surety=surety, actor=personas.sender, values=TYPED, reason="後から", corrections_seen=0
        )
    assert stale.value.code == "stale" and "先に訂正" in stale.value.message
    assert Surety.objects.get(pk=surety.pk).number == "12-3465"


def test_a_correction_with_bad_values_is_refused_as_an_addition_is(personas):
    surety = _surety(personas, _concluded(personas), notice=None)
    blank = sureties.SuretyValues(kind=SuretyKind.PERFORMANCE, issuer="X保証", number="－ - ")
    with pytest.raises(sureties.ContractError) as refused:
        corrections.surety_correct(surety=surety, actor=personas.sender, values=blank, reason="x")
    assert refused.value.code == "surety_number" and refused.value.field == "number"


def test_only_staff_who_may_change_the_contract_correct_or_remove(personas):
    contract = _concluded(personas)
    surety = _surety(personas, contract)
    assert surety.notice is not None
    for who in (personas.viewer, personas.mayor, personas.outsider):
        with pytest.raises(NotAllowed):
            corrections.surety_correct(surety=surety, actor=who, values=RIGHT, reason="x")
        with pytest.raises(NotAllowed):
            corrections.surety_remove(surety=surety, actor=who, reason="x")
        with pytest.raises(NotAllowed):
            corrections.attachment_remove(attachment=surety.notice, actor=who, reason="x")
    assert not SuretyCorrection.objects.exists()
    assert not Surety.objects.removed().exists() and not Attachment.objects.removed().exists()


def test_the_organisations_export_carries_the_history(personas):
    contract = _concluded(personas)
    surety = _surety(personas, contract)
    corrections.surety_correct(
        surety=surety, actor=personas.sender, values=RIGHT, reason="番号の入力誤り"
    )
    gone = sureties.surety_add(
        contract=contract,
        actor=personas.sender,
        values=sureties.SuretyValues(kind=SuretyKind.PERFORMANCE, issuer="X保証", number="P-1"),
    )
    corrections.surety_remove(surety=gone, actor=personas.sender, reason="重複して登録")
    wrong = sureties.attachment_add(
        contract=contract, actor=personas.sender, upload=Upload(filename="誤り.pdf", data=NOTICE)
    )
    corrections.attachment_remove(attachment=wrong, actor=personas.sender, reason="別の工事")

    client = Client()
    client.force_login(personas.admin)
    response = client.post("/admin-org/export/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    [removed_name] = [n for n in archive.namelist() if n.endswith("/削除済み_添付_誤り.pdf")]
    assert archive.read(removed_name) == NOTICE
    record = next(
        r
        for r in json.loads(archive.read("契約一覧.json"))["contracts"]
        if r["id"] == str(contract.pk)
    )
    by_file = {a["file"]: a for a in record["attachments"]}
    assert by_file[removed_name]["removed"] == {
        "at": by_file[removed_name]["removed"]["at"],
        "by": "sender",
        "reason": "別の工事",
    }
    assert by_file[removed_name]["sha256"] == hashlib.sha256(NOTICE).hexdigest()
    current, removed = record["sureties"]
    assert (current["number"], current["auth_key"], current["removed"]) == (
        "12-3465",
        NEW_KEY,
        None,
    )
    [previous] = current["corrections"]
    assert (previous["number"], previous["auth_key"], previous["by"], previous["reason"]) == (
        "12-3456",
        OLD_KEY,
        "sender",
        "番号の入力誤り",
    )
    assert removed["number"] == "P-1" and removed["removed"]["reason"] == "重複して登録"

    # A search result's ZIP carries only what is current.
    result = client.get("/contracts/export.zip")
    assert result.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(b"".join(result.streaming_content))).namelist()
    assert [n for n in names if "添付_" in n] == [
        n.removeprefix("契約/") for n in archive.namelist() if "/添付_認証キー" in n
    ]
