"""A forwarded request (R17, issue 14): the new signer's mail and pages name the forwarder,
show its message (escaped) and say to ask the forwarder for the access code, in the words
the forwarder was told; a staff signer's request and login say what staff need to know."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.contracts import services
from tests.flow import External, agree, draft_contract, last_link, mails_to

pytestmark = pytest.mark.django_db(transaction=True)

FIRM = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2468")
NEW = "kimura@sato.example.jp"
MESSAGE = "担当が木村に変わりました。\n<b>よろしく</b> & お願いします"
ASK_FORWARDER = "アクセスコードは、転送元の 佐藤工業株式会社 佐藤 次郎 様にお問い合わせください。"


def forward_over_http(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    link = last_link(FIRM.email)
    client = Client()
    assert client.post(link, {"code": FIRM.code}).status_code == 302
    page = client.get(link + "forward/").content.decode()
    assert ASK_FORWARDER in page  # the forwarder reads what the new signer will read
    done = client.post(
        link + "forward/",
        {"company": FIRM.company, "name": "木村 四郎", "email": NEW, "note": MESSAGE},
    )
    assert done.status_code == 200
    assert ASK_FORWARDER in done.content.decode()
    return contract


def test_the_new_signer_sees_who_forwarded_with_which_message_and_whom_to_ask(personas):
    contract = forward_over_http(personas)
    [mail] = mails_to(NEW)
    assert "転送元: 佐藤工業株式会社 佐藤 次郎 様" in mail.body
    assert "> 担当が木村に変わりました。\n> <b>よろしく</b> & お願いします" in mail.body
    assert ASK_FORWARDER in mail.body
    assert "別途通知" not in mail.body and FIRM.code not in mail.body

    link = last_link(NEW)
    code_page = Client().get(link).content.decode()
    for page in (code_page,):
        assert "転送元: 佐藤工業株式会社 佐藤 次郎 様" in page
        assert (
            "担当が木村に変わりました。<br>&lt;b&gt;よろしく&lt;/b&gt; &amp; お願いします" in page
        )
        assert ASK_FORWARDER in page
        assert "<b>よろしく" not in page
    assert contract.title not in code_page  # before the code: nothing of the contract
    client = Client()
    assert client.post(link, {"code": FIRM.code}).status_code == 302
    documents = client.get(link + "documents/").content.decode()
    assert 'id="forward-message"' in documents and "佐藤 次郎 様" in documents
    agree(client, link)
    contract.refresh_from_db()
    assert contract.is_concluded


def test_a_counterparty_not_forwarded_is_told_the_organisation_sends_the_code(personas):
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    [mail] = mails_to(FIRM.email)
    instruction = "アクセスコードは、テスト市 様から別途通知されたものを入力してください。"
    assert instruction in mail.body and "アカウント登録や料金は不要です。" in mail.body
    page = Client().get(last_link(FIRM.email)).content.decode()
    assert instruction in page and 'id="forwarded"' not in page


def test_a_staff_signer_is_asked_to_log_in_and_told_why(personas):
    contract = draft_contract(personas.sender, staff_signers=[personas.mayor])
    services.contract_send(contract=contract, actor=personas.sender)
    [mail] = mails_to(personas.mayor.email)
    assert "アカウント登録や料金は不要です" not in mail.body
    assert "アクセスコード" not in mail.body and "お問い合わせ先" not in mail.body
    assert "職員としてログイン" in mail.body

    link = last_link(personas.mayor.email)
    client = Client()
    response = client.get(link, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert 'id="signing-login"' in page and "署名・承認の依頼" in page
    plain_login = Client().get("/login/").content.decode()
    assert 'id="signing-login"' not in plain_login
    assert client.post(
        "/login/",
        {"username": "mayor", "password": personas.password, "next": link},
    ).url.endswith(link)
