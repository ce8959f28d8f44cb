"""The screens that correct or remove a surety and remove an attachment (R32): a Japanese
confirmation with the reason asked, clear Japanese messages on bad input (never a 500), the
contract's page listing only current rows with a collapsed 「削除・訂正の履歴」 holding the rest
(with their SHA-256), 404 for an outsider or another department, 403 for a read-only viewer."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client

from keiyaku.accounts.services import staff_create
from keiyaku.contracts.models import (
    Attachment,
    Contract,
    ContractStatus,
    Surety,
    SuretyCorrection,
    SuretyKind,
)
from keiyaku.contracts.services import sureties
from keiyaku.contracts.services.drafting import Upload
from tests.flow import draft_contract
from tests.pdfs import make_pdf

pytestmark = pytest.mark.django_db

NOTICE = make_pdf(text="認証キーのお知らせ")
KEY = "K7Q2-9XR4-PL3M"


def _login(who) -> Client:
    client = Client()
    client.force_login(who)
    return client


@pytest.fixture
def setup(personas):
    contract = draft_contract(personas.sender, title="令和8年度 橋梁補修工事")
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.COMPLETED)
    surety = sureties.surety_add(
        contract=contract,
        actor=personas.sender,
        values=sureties.SuretyValues(
            kind=SuretyKind.ADVANCE_PAYMENT,
            issuer="東日本建設業保証株式会社",
            number="12-3456",
            auth_key=KEY,
        ),
        notice=Upload(filename="認証キーのお知らせ.pdf", data=NOTICE),
    )
    wrong = sureties.attachment_add(
        contract=contract, actor=personas.sender, upload=Upload(filename="誤り.pdf", data=NOTICE)
    )
    return contract, surety, wrong


def _urls(contract, surety, attachment) -> list[str]:
    base = f"/contracts/{contract.pk}"
    return [
        f"{base}/sureties/{surety.pk}/correct/",
        f"{base}/sureties/{surety.pk}/remove/",
        f"{base}/attachments/{attachment.pk}/remove/",
    ]


def _correction(**changed) -> dict:
    return {
        "kind": SuretyKind.ADVANCE_PAYMENT,
        "issuer": "東日本建設業保証株式会社",
        "number": "12-3465",
        "auth_key": KEY,
        "reason": "番号の入力誤り",
        "corrections_seen": "0",
        **changed,
    }


def test_the_contract_page_offers_correction_and_removal_only_to_who_may_change(personas, setup):
    contract, surety, wrong = setup
    urls = _urls(contract, surety, wrong)
    page = _login(personas.sender).get(f"/contracts/{contract.pk}/").content.decode()
    assert all(url in page for url in urls)
    assert "削除・訂正の履歴" not in page  # nothing corrected or removed yet
    viewer_page = _login(personas.viewer).get(f"/contracts/{contract.pk}/").content.decode()
    assert not any(url in viewer_page for url in urls)


def test_correcting_shows_the_current_values_then_keeps_the_old_in_the_history(personas, setup):
    contract, surety, _wrong = setup
    client = _login(personas.sender)
    url = f"/contracts/{contract.pk}/sureties/{surety.pk}/correct/"
    form = client.get(url)
    assert form.status_code == 200
    text = form.content.decode()
    assert "電子保証の訂正" in text and 'value="12-3456"' in text and KEY in text
    assert 'name="corrections_seen" value="0"' in text

    done = client.post(url, _correction(), follow=True)
    page = done.content.decode()
    assert done.redirect_chain[-1][0].endswith("#sureties")
    assert "電子保証を訂正しました。" in page
    assert Surety.objects.get(pk=surety.pk).number == "12-3465"
    history = page[page.index('id="surety-history"') :]
    assert "<details" in page[page.index('id="surety-history"') - 30 :][:40]  # collapsed
    assert "削除・訂正の履歴（1件）" in history and "番号の入力誤り" in history
    assert "<del>12-3456</del> → <ins>12-3465</ins>" in history
    assert KEY not in history  # the key itself never comes from the history


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"reason": ""}, "訂正の理由を入力してください。"),
        ({"number": "12-3456"}, "訂正する項目がありません。"),
        ({"number": "－"}, "保証契約番号を入力してください"),
        ({"amount": "1" * 21}, "保証金額が大きすぎます"),
        ({"period_end": "2026-01-01", "period_start": "2026-02-01"}, "終了日が開始日より前"),
        ({"corrections_seen": "3"}, "ほかの職員が先に訂正しました"),
    ],
)
def test_a_bad_correction_is_shown_again_with_a_japanese_message(personas, setup, changed, message):
    contract, surety, _wrong = setup
    refused = _login(personas.sender).post(
        f"/contracts/{contract.pk}/sureties/{surety.pk}/correct/", _correction(**changed)
    )
    assert refused.status_code == 400
    assert message in refused.content.decode()
    assert not SuretyCorrection.objects.exists()


def test_removing_asks_in_japanese_then_keeps_the_rows_in_the_history(personas, setup):
    contract, surety, wrong = setup
    client = _login(personas.sender)
    url = f"/contracts/{contract.pk}/attachments/{wrong.pk}/remove/"
    confirm = client.get(url).content.decode()
    assert "添付ファイルの削除" in confirm and "削除します。よろしいですか。" in confirm
    assert hashlib.sha256(NOTICE).hexdigest() in confirm and "削除しないで戻る" in confirm

    empty = client.post(url, {"reason": "  "})
    assert empty.status_code == 400 and "削除の理由を入力してください。" in empty.content.decode()
    assert not Attachment.objects.removed().exists()

    done = client.post(url, {"reason": "別の工事の保証書"}, follow=True)
    assert "添付ファイルを削除しました。" in done.content.decode()
    surety_url = f"/contracts/{contract.pk}/sureties/{surety.pk}/remove/"
    assert "認証キーのお知らせ（一緒に削除されます）" in client.get(surety_url).content.decode()
    page = client.post(surety_url, {"reason": "重複して登録"}, follow=True).content.decode()
    assert "電子保証を削除しました。" in page

    current = page[page.index('id="sureties"') : page.index('id="surety-history"')]
    assert "誤り.pdf" not in current and "12-3456" not in current
    history = page[page.index('id="surety-history"') :]
    assert "削除・訂正の履歴（3件）" in history  # one surety, two attachments
    assert "別の工事の保証書" in history and "重複して登録" in history
    assert history.count(hashlib.sha256(NOTICE).hexdigest()) >= 2
    # A removed file stays downloadable from the history.
    assert f"/contracts/{contract.pk}/attachments/{wrong.pk}/" in history
    again = client.post(url, {"reason": "もう一度"}, follow=True)
    assert "この添付ファイルはすでに削除されています。" in again.content.decode()
    # The screens of a removed row are not offered again.
    assert client.get(url).status_code == 404
    assert client.get(f"/contracts/{contract.pk}/sureties/{surety.pk}/correct/").status_code == 404


def test_an_outsider_or_another_department_gets_404_and_a_viewer_403(personas, setup):
    contract, surety, wrong = setup
    civil = staff_create(  # a sender of a department that does not see the contract
        organisation=personas.org,
        username="doboku",
        password=None,
        display_name="土木 三郎",
        email="doboku@city.example.jp",
        department=personas.other_dept,
    )
    for url in _urls(contract, surety, wrong):
        for who, status in ((personas.outsider, 404), (civil, 404)):
            client = _login(who)
            assert client.get(url).status_code == status, (who, url)
            assert client.post(url, {**_correction(), "reason": "x"}).status_code == status
        viewer = _login(personas.viewer)
        assert viewer.get(url).status_code == 403
        assert viewer.post(url, {**_correction(), "reason": "x"}).status_code == 403
    # Another contract's surety id under this contract is not found either.
    other = draft_contract(personas.sender, title="別の工事")
    assert (
        _login(personas.sender)
        .get(f"/contracts/{other.pk}/sureties/{surety.pk}/correct/")
        .status_code
        == 404
    )
    assert not SuretyCorrection.objects.exists()
    assert not Surety.objects.removed().exists() and not Attachment.objects.removed().exists()


def test_every_new_screen_links_the_manuals_surety_section(personas, setup):
    contract, surety, wrong = setup
    client = _login(personas.sender)
    for url in _urls(contract, surety, wrong):
        link = re.search(r'<a href="([^"]+)" id="help-link">', client.get(url).content.decode())
        assert link is not None and link.group(1) == "/help/staff/#surety"
