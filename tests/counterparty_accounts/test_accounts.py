"""R3: a counterparty's free account. One-time links, the list across organisations, downloads
only of what the address signed, TOTP, and a session apart from the staff login."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from keiyaku.audit.models import Event
from keiyaku.contracts import services
from keiyaku.counterparty_accounts.models import CounterpartyAccount
from keiyaku.login import totp
from keiyaku.notifications.models import CapturedMail
from tests.counterparty_accounts.flow import FIRM, OTHER_FIRM, account_links, sign_in, signed
from tests.flow import External, draft_contract

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_organisations(personas):
    """FIRM signed one contract with テスト市 and one with よそ町; OTHER_FIRM one with テスト市;
    FIRM was also asked to sign a fourth contract and has not yet."""
    city = signed(personas.sender, FIRM, title="テスト市 道路補修工事")
    town = signed(personas.outsider, FIRM, title="よそ町 公園整備工事")
    other = signed(personas.sender, OTHER_FIRM, title="テスト市 庁舎清掃業務")
    pending = draft_contract(personas.sender, externals=[FIRM], title="テスト市 未署名の契約")
    services.contract_send(contract=pending, actor=personas.sender)
    return city, town, other


def test_the_list_shows_exactly_the_contracts_the_address_signed_in_every_organisation(
    two_organisations,
):
    city, town, other = two_organisations
    client = Client()
    sign_in(client, FIRM.email)  # after signing: contracts signed before registering count
    page = client.get("/counterparty/contracts/").content.decode()
    assert page.count('class="card signed-contract"') == 2
    assert city.title in page and town.title in page
    assert "テスト市" in page and "よそ町" in page
    assert other.title not in page and "未署名の契約" not in page
    # Nothing of the staff screens: the account's own menu.
    assert "案件一覧" not in page and "締結済みの契約" in page


def test_a_download_is_the_signed_pdf_and_the_certificate(two_organisations):
    city, _town, _other = two_organisations
    client = Client()
    sign_in(client, FIRM.email)
    party = city.parties.get(email=FIRM.email)
    document = city.documents.get()
    response = client.get(f"/counterparty/contracts/{party.pk}/documents/{document.pk}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    from keiyaku.storage.blobs import blob_get

    assert response.content == blob_get(document.current_version().blob)
    certificate = client.get(f"/counterparty/contracts/{party.pk}/certificate.pdf")
    assert certificate.status_code == 200 and certificate.content.startswith(b"%PDF")
    # Audited without the organisation, and not under the contract: its history stays the
    # organisation's, and the organisation sees nothing of the account (R3).
    downloads = Event.objects.filter(detail__via="counterparty_account")
    assert {e.event for e in downloads} == {"document.download", "certificate.download"}
    assert all(
        e.organisation_id is None and e.subject.startswith("counterparty_account:")
        for e in downloads
    )
    assert not Event.objects.filter(subject=city.audit_subject, detail__via="counterparty_account")


def test_an_outsider_gets_404_for_another_accounts_downloads(two_organisations):
    city, _town, _other = two_organisations
    party = city.parties.get(email=FIRM.email)
    document = city.documents.get()
    outsider = Client()
    sign_in(outsider, OTHER_FIRM.email)
    for path in (
        f"/counterparty/contracts/{party.pk}/documents/{document.pk}.pdf",
        f"/counterparty/contracts/{party.pk}/certificate.pdf",
    ):
        assert outsider.get(path).status_code == 404
    # Nobody signed in: the start page.
    assert Client().get(f"/counterparty/contracts/{party.pk}/certificate.pdf").status_code == 302


def test_the_one_time_link_works_once(two_organisations):
    client = Client()
    sign_in(client, FIRM.email)
    assert CounterpartyAccount.objects.filter(email=FIRM.email).count() == 1
    link = account_links(FIRM.email)[-1]
    again = Client().post(link)
    assert again.status_code == 410 and "使用済み" in again.content.decode()
    assert Client().get(link).status_code == 410
    # The mail is no organisation's: only the platform operator's mailbox shows it.
    mail = CapturedMail.objects.filter(to=FIRM.email, subject__contains="ログイン用リンク").get()
    assert mail.organisation_id is None


def test_the_one_time_link_expires(two_organisations, settings):
    client = Client()
    client.post("/counterparty/", {"email": FIRM.email})
    link = account_links(FIRM.email)[-1]
    later = timezone.now() + timedelta(minutes=settings.KEIYAKU_ACCOUNT_LINK_MINUTES, seconds=1)
    with time_machine.travel(later):
        response = client.post(link)
    assert response.status_code == 410 and "有効期限" in response.content.decode()
    assert not CounterpartyAccount.objects.exists()


def test_an_address_that_signed_nothing_gets_no_mail_and_the_same_page(two_organisations):
    client = Client()
    response = client.post("/counterparty/", {"email": "nobody@example.jp"})
    assert response.status_code == 200 and "メールをご確認ください" in response.content.decode()
    assert not CapturedMail.objects.filter(to="nobody@example.jp").exists()
    assert client.post("/counterparty/", {"email": "not an address"}).status_code == 400


def test_the_mail_is_rate_limited_per_address(two_organisations, settings):
    settings.KEIYAKU_RATE_ACCOUNT_MAIL_PER_ADDRESS = (2, 3600)
    client = Client()
    for _ in range(2):
        assert client.post("/counterparty/", {"email": FIRM.email}).status_code == 200
    refused = client.post("/counterparty/", {"email": FIRM.email})
    assert refused.status_code == 429 and "しばらく受け付けられません" in refused.content.decode()
    assert len(account_links(FIRM.email)) == 2


def test_a_staff_login_is_no_account_and_an_account_is_no_staff_login(two_organisations, personas):
    staff = Client()
    staff.force_login(personas.sender)
    response = staff.get("/counterparty/contracts/")
    assert response.status_code == 302 and response["Location"] == "/counterparty/"

    account = Client()
    sign_in(account, FIRM.email)
    response = account.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    # Signing out of the account leaves a staff login in the same browser alone.
    both = Client()
    both.force_login(personas.sender)
    sign_in(both, FIRM.email)
    both.post("/counterparty/sign-out/")
    assert both.get("/counterparty/contracts/").status_code == 302
    assert both.get("/").status_code == 200


def test_totp_is_asked_after_the_link_once_set_up(two_organisations):
    client = Client()
    sign_in(client, FIRM.email)
    page = client.get("/counterparty/security/").content.decode()
    secret = page.split('data-secret="')[1].split('"')[0]
    now = timezone.now()
    assert client.post("/counterparty/security/", {"code": "000000"}).status_code == 400
    response = client.post("/counterparty/security/", {"code": totp.totp(secret, now.timestamp())})
    assert response.status_code == 302
    assert CounterpartyAccount.objects.get(email=FIRM.email).has_totp
    assert Event.objects.filter(event="counterparty_account.totp_enrol", organisation=None).exists()

    with time_machine.travel(now + timedelta(seconds=60)):
        browser = Client()
        browser.post("/counterparty/", {"email": FIRM.email})
        response = browser.post(account_links(FIRM.email)[-1])
        assert response["Location"] == "/counterparty/code/"
        # Not signed in before the code.
        assert browser.get("/counterparty/contracts/").status_code == 302
        assert browser.post("/counterparty/code/", {"code": "123456"}).status_code == 400
        code = totp.totp(secret, (now + timedelta(seconds=60)).timestamp())
        response = browser.post("/counterparty/code/", {"code": code})
        assert response["Location"] == "/counterparty/contracts/"
        assert browser.get("/counterparty/contracts/").status_code == 200
        # A code is never accepted twice.
        again = Client()
        again.post("/counterparty/", {"email": FIRM.email})
        again.post(account_links(FIRM.email)[-1])
        assert again.post("/counterparty/code/", {"code": code}).status_code == 400


def test_a_party_of_a_different_mailbox_is_not_listed(personas):
    # The domain's case does not matter (RFC 5321), the local part's may: not the same mailbox.
    signed(
        personas.sender,
        External("株式会社髙橋建設", "髙橋 一郎", "Takahashi@EXAMPLE.jp"),
        title="大文字のドメイン",
    )
    signed(personas.sender, External("別会社", "別人", "TAKAHASHI@example.jp"), title="別の受信箱")
    client = Client()
    sign_in(client, "Takahashi@example.jp")
    page = client.get("/counterparty/contracts/").content.decode()
    assert "大文字のドメイン" in page and "別の受信箱" not in page
