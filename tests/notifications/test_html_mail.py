"""Issue 14, acceptance 2: every mail is multipart (text + HTML); parsed as a mail program
would, every link of the HTML part is in the text part, and the subject lines of R9/R23 (and
every other mail's) are the ones they were.

The mails are produced by the real events (tests/notifications/test_mail_table.py's
routing) and each outbox row is turned into the bytes the relay would receive
(`outbox_email`), then parsed with `email` and `html.parser`.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header
from html.parser import HTMLParser

import pytest
from django.test import Client

from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.services import staff_invite
from keiyaku.applications.services import Answers, application_send, application_submit
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.notifications.mail_html import mail_html
from keiyaku.notifications.models import CapturedMail, OutboxMessage
from keiyaku.notifications.services import outbox_email
from keiyaku.operations.services import maintenance_notice_post
from tests.flow import External, agree, draft_contract, last_link
from tests.notifications.test_mail_table import (
    FORWARDER,
    LATER,
    SIGNER,
    SUCCESSOR_EMAIL,
    forwarded_routing,
)

pytestmark = pytest.mark.django_db(transaction=True)

TITLE = "令和8年度 道路補修工事 請負契約"
JST = timezone(timedelta(hours=9))

#: Every mail keiyaku sends, by template, with its subject as it was before issue 14.
SUBJECTS = {
    "sign_request": f"テスト市 様より「{TITLE}」への署名依頼が届いています",
    "reminder": f"【リマインド】テスト市 様より「{TITLE}」への署名依頼が届いています",
    "approval_request": f"【keiyaku】「{TITLE}」の承認依頼",
    "approval_reminder": f"【リマインド】【keiyaku】「{TITLE}」の承認依頼",
    "completed": f"電子署名完了のお知らせ「{TITLE}」",
    "cancelled": f"【keiyaku】テスト市 様「{TITLE}」は取り消されました",
    "rejected": f"【keiyaku】署名依頼が却下されました「{TITLE}」",
    "expired": f"【keiyaku】署名期限が過ぎました「{TITLE}」",
    "forwarded": f"【keiyaku】署名依頼が転送されました「{TITLE}」",
    "party_locked": f"【keiyaku】アクセスコードの誤入力によりロックされました「{TITLE}」",
    "application_request": f"テスト市 様より「{TITLE}」の電子契約利用申出書の提出依頼が届いています",
    "application_submitted": f"【keiyaku】電子契約利用申出書が提出されました「{TITLE}」",
    "staff_welcome": "【テスト市】keiyaku 電子契約のアカウントが登録されました",
    "maintenance_notice": "【keiyaku】メンテナンスのお知らせ（2099年3月14日 22:00から）",
}

#: Mails whose link is a button: the action a recipient takes.
BUTTONS = {
    "sign_request": "書類を確認する",
    "reminder": "書類を確認する",
    "approval_request": "書類を確認する",
    "approval_reminder": "書類を確認する",
    "completed": ("署名済みの書類をダウンロードする", "案件を開く"),
    "application_request": "利用申出書を入力する",
    "staff_welcome": "パスワードを設定する",
}


class Links(HTMLParser):
    """Every href, every tag, and the text of each link, as a mail program reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.link_texts: list[str] = []
        self._in_link = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])
            self._in_link = True
            self.link_texts.append("")

    def handle_endtag(self, tag):
        if tag == "a":
            self._in_link = False

    def handle_data(self, data):
        if self._in_link:
            self.link_texts[-1] += data


def every_mail_produced(personas) -> None:
    """Each event once: request, forward, reminder, lock, rejection, cancellation, expiry,
    completion (attached and too large), application, welcome, maintenance notice."""
    contract = forwarded_routing(personas)  # sign_request, approval_request, forwarded
    services.contract_remind(contract=contract, actor=personas.sender)
    for _ in range(5):
        Client().post(last_link(SIGNER.email), {"code": "0000"})  # party_locked
    services.contract_cancel(contract=contract, actor=personas.sender, reason="入札のやり直し")

    rejected = draft_contract(personas.sender, externals=[SIGNER])
    services.contract_send(contract=rejected, actor=personas.sender)
    services.party_reject(party=rejected.parties.get(), reason="金額が違います", meta=SYSTEM)

    expired = draft_contract(personas.sender, externals=[LATER])
    services.contract_send(contract=expired, actor=personas.sender)
    expired.refresh_from_db()
    services.deadlines_check(now=expired.deadline + timedelta(seconds=1))

    done = draft_contract(
        personas.sender, externals=[External("株式会社A&B", "山田 太郎", "yamada@example.jp")]
    )
    services.party_add(contract=done, actor=personas.sender, kind="staff", staff=personas.mayor)
    services.contract_send(contract=done, actor=personas.sender)
    agree(Client(), last_link("yamada@example.jp"), "1234")
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))

    draft = draft_contract(personas.sender)
    application = application_send(
        contract=draft, actor=personas.sender, company="株式会社髙橋建設", email=SIGNER.email
    )
    application_submit(
        application=application,
        answers=Answers(
            company="株式会社髙橋建設",
            title="代表取締役",
            name=SIGNER.name,
            email=SIGNER.email,
            access_code=SIGNER.code,
        ),
    )
    staff_invite(
        organisation=personas.org,
        actor=personas.admin,
        username="newcomer",
        display_name="新人",
        email="newcomer@city.example.jp",
        department=None,
        roles=[Role.SENDER],
    )
    operator = Staff.objects.create_superuser("operator", "op@keiyaku.example.jp", "pw-operator-1")
    starts = datetime(2099, 3, 14, 22, 0, tzinfo=JST)
    maintenance_notice_post(
        actor=operator, starts_at=starts, ends_at=starts + timedelta(hours=3), text="停止します。"
    )


def parts(message: OutboxMessage) -> tuple[email.message.EmailMessage, str, str]:
    raw = outbox_email(message).message().as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    plain = parsed.get_body(preferencelist=("plain",))
    rich = parsed.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None, message.kind
    return parsed, plain.get_content(), rich.get_content()


def subject_of(message: OutboxMessage) -> str:
    """The Subject header decoded as RFC 2047 says (what a mail program shows)."""
    raw = email.message_from_bytes(outbox_email(message).message().as_bytes())
    return str(make_header(decode_header(raw["Subject"])))


def test_every_mail_is_text_and_html_with_the_same_links_and_its_old_subject(personas, settings):
    every_mail_produced(personas)
    messages = list(OutboxMessage.objects.order_by("id"))
    assert {m.kind for m in messages} == set(SUBJECTS), "a mail kind was not produced"
    for message in messages:
        parsed, text, rich = parts(message)
        assert subject_of(message) == SUBJECTS[message.kind], message.kind
        alternative = next(p for p in parsed.walk() if p.get_content_type().startswith("multip"))
        if message.attachments:
            assert parsed.get_content_type() == "multipart/mixed"
            kinds = [p.get_content_type() for p in parsed.walk()]
            assert "multipart/alternative" in kinds and "application/pdf" in kinds
        else:
            assert alternative.get_content_type() == "multipart/alternative"
        links = Links()
        links.feed(rich)
        for href in links.hrefs:
            assert href in text, f"{message.kind}: {href} is not in the text part"
        # The same wording: every line of the text is in the HTML part's text.
        for line in text.splitlines():
            words = line.removeprefix("> ").strip()
            if words and words != "--":
                assert html_text(rich).count(words[:40]) >= 1, (message.kind, words)
        # Inline CSS only, no image, no script, nothing fetched from elsewhere.
        assert not links.tags & {"img", "style", "link", "script", "iframe"}, message.kind
        assert not links.attributes & {"src", "srcset", "background", "class"}, message.kind
        label = BUTTONS.get(message.kind)
        if label:
            labels = (label,) if isinstance(label, str) else label
            assert links.link_texts[0] in labels, (message.kind, links.link_texts)
    # The completion mail: a counterparty gets the PDFs attached and, all the same, the
    # download page's link and the verification page's URL; staff get the contract page.
    external = OutboxMessage.objects.get(to="yamada@example.jp", kind="completed")
    assert external.attachments
    assert "株式会社A&B 山田 太郎 様" in external.body  # plain text, not HTML-escaped
    download = next(line for line in external.body.splitlines() if "/d/" in line)
    assert Client().get(download.removeprefix(settings.PUBLIC_URL)).status_code == 200
    assert f"{settings.PUBLIC_URL}/verify/" in external.body
    staff = OutboxMessage.objects.get(to=personas.mayor.email, kind="completed")
    assert "/d/" not in staff.body and "/contracts/" in staff.body and "/verify/" in staff.body
    # The mail that was captured is the one that would have been sent.
    captured = CapturedMail.objects.get(to="yamada@example.jp", subject=SUBJECTS["completed"])
    assert (
        'href="' in captured.html
        and captured.html
        in (parts(OutboxMessage.objects.get(to="yamada@example.jp", kind="completed"))[2])
    )


def html_text(rich: str) -> str:
    """The text a reader sees in the HTML part."""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.chunks: list[str] = []

        def handle_data(self, data: str) -> None:
            self.chunks.append(data)

        def handle_starttag(self, tag, attrs):
            if tag in ("br", "p", "blockquote"):
                self.chunks.append("\n")

    reader = Text()
    reader.feed(rich)
    return "".join(reader.chunks)


def test_the_forwarders_words_are_quoted_and_escaped_never_a_link(personas, settings):
    contract = draft_contract(personas.sender, externals=[FORWARDER])
    services.contract_send(contract=contract, actor=personas.sender)
    note = (
        '<script>alert("x")</script> & <b>太字</b>\n'
        f"{settings.PUBLIC_URL}/s/forged-token/\n"
        "https://phish.example/\n"
        "-- \n"
        "■ 見出しのふり"
    )
    services.party_forward(
        party=contract.parties.get(),
        name="木村 四郎",
        email=SUCCESSOR_EMAIL,
        company="佐藤工業株式会社",
        note=note,
        meta=SYSTEM,
    )
    request = OutboxMessage.objects.get(to=SUCCESSOR_EMAIL)
    _parsed, text, rich = parts(request)
    assert '> <script>alert("x")</script> & <b>太字</b>' in text  # plain text as typed
    assert "<script>" not in rich and "<b>" not in rich
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;太字&lt;/b&gt;" in rich
    links = Links()
    links.feed(rich)
    assert all("forged-token" not in h and "phish" not in h for h in links.hrefs)
    assert links.link_texts[0] == "書類を確認する"  # the button is the real link
    assert "/s/forged-token/" in html_text(rich)  # shown as words, in the quotation
    sender_mail = OutboxMessage.objects.get(kind="forwarded")
    assert "> https://phish.example/" in parts(sender_mail)[1]


def test_a_text_line_that_is_not_keiyakus_own_url_is_not_a_link(settings):
    body = f"次のリンク\n{settings.PUBLIC_URL}/verify/\nhttps://elsewhere.example/\n\n-- \nkeiyaku"
    rich = mail_html(subject="件名", body=body)
    links = Links()
    links.feed(rich)
    assert links.hrefs == [f"{settings.PUBLIC_URL}/verify/"]  # a link, not a button
    assert links.link_texts == [f"{settings.PUBLIC_URL}/verify/"]
