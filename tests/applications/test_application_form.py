"""R14 acceptance: the online application form fills a draft's party; its access code works at
signing time, and the consent is recorded and shown on the certificate."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keiyaku.applications.models import Application, ApplicationStatus
from keiyaku.applications.services import Answers, application_submit
from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.models import ContractStatus, PartyKind
from tests.applications.helpers import answers, application_link, send, submit
from tests.flow import agree, draft_contract, last_link, mails_to

pytestmark = pytest.mark.django_db(transaction=True)

COMPANY_MAIL = "office@takahashi.example.jp"
SIGNER = "ichiro@takahashi.example.jp"


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_the_online_application_form_fills_a_drafts_party_its_access_code_works_at_signing_time(
    personas,
):
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    link = application_link(COMPANY_MAIL)

    form = Client().get(link)
    assert form.status_code == 200
    page = form.content.decode()
    assert "電子契約利用申出書" in page and "建設業法施行令第5条の5" in page
    assert contract.title in page

    response = submit(link, access_code="Kx-7391", access_code_again="Kx-7391")
    assert response.status_code == 200, response.content.decode()[:3000]
    assert "電子契約利用申出書を提出しました" in response.content.decode()

    party = contract.parties.get()
    assert party.kind == PartyKind.EXTERNAL
    assert (party.company, party.name, party.email) == ("株式会社髙橋建設", "髙橋 一郎", SIGNER)
    application = Application.objects.get()
    assert application.status == ApplicationStatus.SUBMITTED and application.party == party
    assert application.staff_contacts == [
        {"name": "佐藤 花子", "email": "sato@takahashi.example.jp"}
    ]
    assert application.submitted_ip == "198.51.100.23"
    assert application.submitted_user_agent == "Mozilla/5.0 TestBrowser"
    assert "建設業法施行令第5条の5" in application.consent_text
    consent = Event.objects.get(event="application.consent")
    assert consent.ip == "198.51.100.23" and SIGNER in consent.actor_label

    # The sender is told; the code the company chose is in no e-mail.
    (notice,) = mails_to(personas.sender.email)
    assert "電子契約利用申出書が提出されました" in notice.subject
    assert SIGNER in notice.body and "sato@takahashi.example.jp" in notice.body
    for mail in [*mails_to(COMPANY_MAIL), notice]:
        assert "Kx-7391" not in mail.body

    # The sender sees the answers and the consent on the draft page.
    staff = Client()
    staff.force_login(personas.sender)
    page = staff.get(f"/contracts/{contract.pk}/").content.decode()
    assert "提出済み" in page and "佐藤 花子" in page and "承諾" in page

    # Send; the company signs with the code it chose; the contract completes.
    services.contract_send(contract=contract, actor=personas.sender)
    bad = Client().post(last_link(SIGNER), {"code": "7391"})
    assert bad.status_code == 400
    agree(Client(), last_link(SIGNER), "Kx-7391")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.COMPLETED

    certificate = staff.get(f"/contracts/{contract.pk}/certificate.pdf")
    assert certificate.status_code == 200
    text = pdftotext(certificate.content).replace("\n", "")
    assert "電子契約の利用の承諾" in text
    assert "建設業法施行令第5条の5" in text
    assert "198.51.100.23" in text
    assert SIGNER in text
    page = staff.get(f"/contracts/{contract.pk}/").content.decode()
    assert "提出済み" in page and "198.51.100.23" in page  # still shown once completed


def test_the_link_shows_already_submitted_and_a_second_submission_is_refused(personas):
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    link = application_link(COMPANY_MAIL)
    assert submit(link).status_code == 200

    again = submit(link, name="別人 太郎", email="other@example.jp")
    assert again.status_code == 410
    assert "提出済み" in again.content.decode()
    assert Client().get(link).status_code == 410
    assert "提出済み" in Client().get(link).content.decode()
    assert contract.parties.count() == 1

    with pytest.raises(ContractError):
        application_submit(
            application=Application.objects.get(),
            answers=Answers(
                company="A", title="", name="B", email="b@example.jp", access_code="1234"
            ),
        )
    assert contract.parties.count() == 1
    assert len(mails_to(personas.sender.email)) == 1


def test_a_submitted_link_says_when_in_either_language(personas):
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    link = application_link(COMPANY_MAIL)
    assert submit(link).status_code == 200
    submitted_at = Application.objects.get().submitted_at
    assert submitted_at is not None
    when = timezone.localtime(submitted_at).strftime("%Y-%m-%d %H:%M")

    page = Client().get(link).content.decode()
    assert 'data-state="submitted"' in page
    assert f"{when} に提出を受け付けました" in page
    english = Client(headers={"accept-language": "en"}).get(link).content.decode()
    assert f"Received at {when}." in english and "提出" not in english


def test_an_expired_link_cannot_be_used(personas):
    contract = draft_contract(personas.sender)
    application = send(contract, personas.sender)
    link = application_link(COMPANY_MAIL)
    Application.objects.filter(pk=application.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = Client().get(link)
    assert response.status_code == 410
    assert "有効期限が切れています" in response.content.decode()
    assert submit(link).status_code == 410
    assert not contract.parties.exists()


def test_an_unknown_link_is_not_found(personas):
    response = Client().get("/a/" + "x" * 32 + "/")
    assert response.status_code == 404
    assert "このリンクは使用できません" in response.content.decode()


def test_a_sent_contracts_link_shows_a_clear_page(personas):
    contract = draft_contract(personas.sender, staff_signers=[personas.mayor])
    send(contract, personas.sender)
    link = application_link(COMPANY_MAIL)
    services.contract_send(contract=contract, actor=personas.sender)
    response = Client().get(link)
    assert response.status_code == 410
    assert "受付は終了しました" in response.content.decode()
    assert submit(link).status_code == 410
    assert contract.parties.count() == 1


def test_a_cancelled_contracts_link_shows_a_clear_page(personas):
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    link = application_link(COMPANY_MAIL)
    services.contract_cancel(contract=contract, actor=personas.sender, reason="入札中止")
    response = Client().get(link)
    assert response.status_code == 410
    assert "取り消されました" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"access_code_again": "7392"}, "アクセスコードが一致しません"),
        ({"access_code": "123", "access_code_again": "123"}, "4 文字以上"),
        ({"access_code": "コード1234", "access_code_again": "コード1234"}, "半角英数字"),
        ({"consent": ""}, "電子契約の利用への承諾が必要です"),
        ({"email": "not-an-address"}, "有効なメールアドレス"),
        ({"staff2_name": "鈴木 次郎"}, "メールアドレスを入力してください"),
        ({"name": ""}, "このフィールドは必須です"),
    ],
)
def test_validation_errors_are_shown_in_japanese(personas, overrides, message):
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    response = submit(application_link(COMPANY_MAIL), **overrides)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page, page
    assert "入力内容を確認してください" in page
    assert not contract.parties.exists()
    assert Application.objects.get().status == ApplicationStatus.SENT


def test_a_signer_name_the_pdf_font_cannot_draw_is_refused_on_the_form(personas):
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    response = submit(application_link(COMPANY_MAIL), name="髙橋 🙂")
    assert response.status_code == 400
    assert "使用できない文字" in response.content.decode()
    assert Application.objects.get().status == ApplicationStatus.SENT
    assert not contract.parties.exists()


def test_the_form_in_english_records_the_japanese_statement(personas):
    contract = draft_contract(personas.sender)
    send(contract, personas.sender)
    link = application_link(COMPANY_MAIL)
    client = Client(headers={"accept-language": "en-US,en;q=0.9"})
    page = client.get(link).content.decode()
    assert "Application for electronic contracting" in page
    assert "Article 5-5 of the Order for Enforcement of the Construction Business Act" in page
    assert "申出書を提出する" not in page

    response = client.post(link, {**answers(), "consent": ""})
    assert "Your consent to electronic contracting is required." in response.content.decode()
    assert client.post(link, answers()).status_code == 200
    assert Application.objects.get().consent_text.startswith("建設業法施行令第5条の5の規定に基づき")
