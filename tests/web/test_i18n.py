"""Japanese is the default UI; English is the second language, chosen by the user or the browser.

The msgids are the Japanese source strings; keiyaku/locale/en holds the English catalogue, whose
compiled django.mo is committed and must say exactly what django.po says.
"""

from __future__ import annotations

import ast
import gettext
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from keiyaku.contracts import services
from tests.flow import External, draft_contract, last_link
from tests.web.sending import send_confirmed

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(autouse=True)
def _back_to_default_language() -> Iterator[None]:
    # LocaleMiddleware activates the request's language in this thread and leaves it active.
    yield
    translation.deactivate()


def in_english(client: Client) -> Client:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    return client


def test_the_default_ui_is_japanese(db):
    page = Client().get("/login/").content.decode()
    assert '<html lang="ja">' in page
    assert "ログイン" in page and "職員ログイン" in page
    assert "Log in" not in page


def test_set_language_switches_the_login_page_to_english(db):
    client = in_english(Client())
    page = client.get("/login/").content.decode()
    assert '<html lang="en">' in page
    assert "Staff login" in page and "Log in" in page and "Login ID" in page
    assert "ログイン" not in page

    client.post("/i18n/setlang/", {"language": "ja", "next": "/login/"})
    assert "職員ログイン" in client.get("/login/").content.decode()


def test_an_english_browser_gets_english(db):
    page = Client(headers={"accept-language": "en-US,en;q=0.9"}).get("/login/").content.decode()
    assert "Staff login" in page and "ログイン" not in page


def test_the_header_offers_the_language_switch(db):
    page = Client().get("/verify/").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert 'name="next" value="/verify/"' in page
    assert ">日本語</button>" in page and ">English</button>" in page


def test_contract_list_in_english(personas):
    draft_contract(personas.sender)
    client = in_english(Client())
    client.force_login(personas.sender)
    page = client.get("/").content.decode()
    assert "<h1>Contracts</h1>" in page
    assert "New contract" in page and "Last updated" in page
    assert "Draft" in page  # the contract's status, from the model's choices
    assert "令和8年度 道路補修工事 請負契約" in page  # data is never translated
    assert "案件一覧" not in page


@pytest.mark.django_db(transaction=True)
def test_signing_pages_in_english(personas):
    contract = draft_contract(
        personas.sender, externals=[External("株式会社A", "甲 太郎", "a@example.jp")]
    )
    services.contract_send(contract=contract, actor=personas.sender)
    link = last_link("a@example.jp")
    client = in_english(Client())

    page = client.get(link).content.decode()
    assert "Enter the access code" in page
    assert "Signature request from テスト市" in page
    assert "アクセスコード" not in page

    response = client.post(link, {"code": "0000"})
    assert response.status_code == 400
    assert "The access code is incorrect. 4 more wrong attempts lock" in response.content.decode()

    assert client.post(link, {"code": "1234"}).status_code == 302
    page = client.get(link + "documents/").content.decode()
    assert "Dear 株式会社A 甲 太郎, please review the documents" in page
    assert "Agree to the contents" in page and "Reject without agreeing" in page
    assert "内容に同意する" not in page

    response = client.post("/i18n/setlang/", {"language": "ja", "next": link + "documents/"})
    assert response["Location"] == link + "documents/"
    assert "内容に同意する" in client.get(link + "documents/").content.decode()


def test_email_templates_have_english_text(personas):
    contract = draft_contract(personas.sender)
    contract.deadline = datetime(2026, 12, 8, 14, 59, 59, tzinfo=UTC)  # 23:59:59 JST
    context = {
        "contract": contract,
        "organisation": contract.organisation,
        "party": None,
        "url": "https://keiyaku.example.jp/s/token/",
        "needs_code": True,
    }
    with translation.override("en"):
        text = render_to_string("notifications/mail/sign_request.txt", context)
    assert text.startswith("テスト市 has asked you to sign “令和8年度 道路補修工事 請負契約”\n")
    assert "Signing deadline: Tue 8/12/2026 23:59 Japan time" in text
    assert "This link works until the signing deadline." in text
    with translation.override("ja"):
        text = render_to_string("notifications/mail/sign_request.txt", context)
    assert text.startswith(
        "テスト市 様より「令和8年度 道路補修工事 請負契約」への署名依頼が届いています\n"
    )
    assert "署名期限: 2026年12月8日（火）23:59（日本時間）" in text
    assert "このリンクは署名期限まで使えます。" in text


# --- the catalogue ---------------------------------------------------------------------------


def read_po(path: Path) -> list[dict[str, str]]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr, msgstr[n], flags."""
    entries: list[dict[str, str]] = []
    entry: dict[str, str] = {}
    field = ""

    def finish() -> None:
        nonlocal entry
        if any(key.startswith("msgstr") for key in entry):
            entries.append(entry)
            entry = {}

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            # Entries are separated by blank lines: what is pending here belonged to an
            # obsolete entry (``#, fuzzy`` then ``#~`` lines), never to the next one.
            finish()
            entry = {}
            continue
        if line.startswith("#"):
            finish()
            if line.startswith("#,"):
                entry["flags"] = entry.get("flags", "") + line[2:]
            continue
        if line.startswith('"'):
            entry[field] += ast.literal_eval(line)
            continue
        keyword, _, value = line.partition(" ")
        if keyword in ("msgctxt", "msgid"):
            finish()
        field = keyword
        entry[field] = ast.literal_eval(value)
    finish()
    return entries


def po_catalogue(entries: list[dict[str, str]]) -> dict[object, str]:
    """The catalogue as Python's gettext reads it from a compiled .mo."""
    catalogue: dict[object, str] = {}
    for entry in entries:
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            for key, value in entry.items():
                if key.startswith("msgstr["):
                    catalogue[(msgid, int(key[7:-1]))] = value
        else:
            catalogue[msgid] = entry["msgstr"]
    # msgfmt leaves this line out of the compiled header.
    catalogue[""] = re.sub(r"^POT-Creation-Date: .*\n", "", catalogue.get("", ""), flags=re.M)
    return catalogue


def translations(entry: dict[str, str]) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


def test_every_message_has_an_english_translation():
    entries = [e for e in read_po(CATALOGUE / "django.po") if e["msgid"]]
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not all(translations(e))]
    assert not untranslated
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", "")]
    assert not fuzzy


def test_translations_keep_the_placeholders():
    for entry in read_po(CATALOGUE / "django.po"):
        expected = set(PLACEHOLDER_RE.findall(entry["msgid"]))
        for text in translations(entry):
            assert set(PLACEHOLDER_RE.findall(text)) == expected, entry["msgid"]


def test_compiled_catalogue_matches_the_po():
    with (CATALOGUE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog
    assert compiled == po_catalogue(read_po(CATALOGUE / "django.po")), (
        "django.mo is out of date: run `keiyaku compilemessages` and commit django.mo"
    )


@pytest.mark.django_db(transaction=True)
def test_mail_goes_out_in_japanese_when_the_sender_uses_english(personas):
    """Recipients have no language of their own: the request follows the service's language."""
    from tests.flow import mails_to

    firm = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "2468")
    contract = draft_contract(personas.sender, externals=[firm])
    staff = Client(HTTP_ACCEPT_LANGUAGE="en")
    staff.force_login(personas.sender)
    assert "Contracts" in staff.get("/").content.decode()
    send_confirmed(staff, contract)
    (request,) = mails_to(firm.email)
    assert request.subject == f"テスト市 様より「{contract.title}」への署名依頼が届いています"
