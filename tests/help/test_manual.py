"""Issue 14, acceptance 4: the manuals (keiyaku/help) show only screens the browser tests still
take, every screen links its manual section, and ``make manual`` prints them to PDF in the
embedded font (docs/manual/make_manual.py)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from keiyaku.contracts import services
from keiyaku.help.sections import GUIDE, MANUALS, STAFF
from tests.browser.screenshots import manual_screenshot, shots_in_tests
from tests.docs.test_trust_illustrations import check_png
from tests.flow import External, draft_contract, last_link

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "docs" / "manual" / "make_manual.py"
FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "4321")


@cache
def builder() -> ModuleType:
    """docs/manual/make_manual.py, a script, loaded as a module."""
    spec = importlib.util.spec_from_file_location("make_manual", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_screenshot_a_manual_shows_is_taken_by_a_test_and_committed():
    shown = builder().shown_shots()
    taken = shots_in_tests()
    committed = {path.stem: path for path in builder().SHOTS.glob("*.png")}
    assert shown, "the manuals show no screenshot"
    assert not shown - set(taken), f"shown, but no test takes them: {shown - set(taken)}"
    assert not set(taken) - shown, f"taken, but no manual shows them: {set(taken) - shown}"
    assert set(committed) == shown, (set(committed) ^ shown, "run `make manual`")
    # One test takes each: two would overwrite each other's picture.
    assert {name: nodes for name, nodes in taken.items() if len(nodes) > 1} == {}
    for path in committed.values():
        check_png(path)
    # Staff screens at a desktop's width, the counterparty's pages at a phone's (390 px), but
    # the mail (seen in a mail program) and the public verification page.
    for name, path in committed.items():
        width = check_png(path)[0]
        if name.startswith("guide-") and name != "guide-mail":
            assert width == 390, (name, width)
        else:
            assert width >= 1024, (name, width)


def test_a_screenshot_name_the_manuals_cannot_show_is_refused():
    with pytest.raises(ValueError, match="lower case"):
        manual_screenshot(None, "Staff Send")


@pytest.mark.django_db
def test_both_manuals_are_public_pages_with_every_section(client):
    for manual in MANUALS.values():
        response = client.get(f"/help/{manual.slug}/")
        assert response.status_code == 200
        html = response.content.decode()
        for number, (anchor, text) in enumerate(manual.sections, start=1):
            assert html.count(f'<h2 id="{anchor}">{number}. {text}</h2>') == 1, anchor
            assert f'<a href="#{anchor}">' in html
        for screen, anchor in manual.screens.items():
            assert anchor in dict(manual.sections), (manual.slug, screen, anchor)
        for src in re.findall(r'<img src="/static/help/shots/([^"]+)"', html):
            assert (builder().SHOTS / src).is_file(), src
    assert client.get("/help/nothing/").status_code == 404
    font = client.get("/help/ipaexg.ttf")
    assert font.status_code == 200 and font["Content-Type"] == "font/ttf"


def help_link(response) -> str:
    found = re.search(r'<a href="([^"]+)" id="help-link">', response.content.decode())
    assert found, "no help link"
    return found.group(1)


@pytest.mark.django_db(transaction=True)  # the signing e-mail goes out after commit
def test_every_screen_links_the_section_that_explains_it(client, personas):
    # Anyone: the login page the staff manual, the verification page the counterparty guide.
    assert help_link(client.get("/login/")) == "/help/staff/#login"
    assert help_link(client.get("/verify/")) == "/help/guide/#verify"
    # A counterparty, not logged in, on its access-code page.
    contract = draft_contract(personas.sender, externals=[FIRM])
    services.contract_send(contract=contract, actor=personas.sender)
    assert help_link(client.get(last_link(FIRM.email))) == "/help/guide/#code"
    # Staff, logged in: their list, a contract, the verification page.
    client.force_login(personas.sender)
    assert help_link(client.get("/")) == "/help/staff/#list"
    assert help_link(client.get(f"/contracts/{contract.pk}/")) == "/help/staff/#routing"
    assert help_link(client.get("/verify/")) == "/help/staff/#verify"
    # A counterparty page stays on the guide even for a logged-in visitor.
    assert help_link(client.get(last_link(FIRM.email))) == "/help/guide/#code"
    assert help_link(client.get("/counterparty/")) == "/help/guide/#account"


# Every URL name that is not a screen (a file, JSON, a form's POST target that redirects, the
# platform operator's pages, which docs/operations.md explains): any other must have a section.
NOT_SCREENS = {
    # files, images and JSON
    *("pki:tsa", "pki:crl", "pki:ocsp", "pki:ocsp-get", "pki:root-crt", "trust-root-pem"),
    *("orgadmin:staff-export", "orgadmin:staff-import-template", "orgadmin:audit-export"),
    *("addressbook:export", "help-font", "mailbox-attachment", "box-collection", "box-item"),
    *("document-download", "document-page", "certificate-download", "sign-page", "sign-download"),
    *("download-document", "download-certificate", "contract-import-template"),
    *("contract-export-csv", "contract-export-zip", "orgadmin:organisation-export"),
    *("monthly-report-csv", "attachment-download"),
    *("counterparty_accounts:document", "counterparty_accounts:certificate"),
    # actions that answer with a redirect
    *("party-parallel", "party-unlock", "party-email", "party-remove", "party-move"),
    *("document-add", "document-remove", "contract-share-add", "contract-share-remove"),
    *("search-save", "search-delete", "custom-field-retire", "orgadmin:api-token-revoke"),
    *("signin-unlock", "signin-totp-reset", "signin-oidc-start", "signin-oidc-callback"),
    *("logout", "set_language", "counterparty_accounts:sign-out", "operator-notice-withdraw"),
    # the platform operator's pages (docs/operations.md), and the manuals themselves
    *("operator-status", "operator-notices", "orgadmin:organisation-list", "help"),
}


def _url_names(patterns, namespace=""):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _url_names(pattern.url_patterns, inner)
        elif pattern.name:
            yield namespace + pattern.name


def test_every_screen_has_a_section_in_a_manual():
    """A new screen is explained (keiyaku/help/sections.py) or said here not to be a screen."""
    from django.urls import get_resolver

    from keiyaku.help.sections import GUIDE, STAFF

    explained = set(STAFF.screens) | set(GUIDE.screens)
    # The API's operations are no screens: docs/api.md and /api/v1/docs explain them.
    names = {
        name for name in _url_names(get_resolver().url_patterns) if not name.startswith("api-v1:")
    }
    assert names - explained - NOT_SCREENS == set()
    assert NOT_SCREENS - names == set(), "a name listed here no longer exists"


def pdffonts(pdf: Path) -> list[list[str]]:
    """pdffonts' rows: name, type, encoding, emb, sub, uni, object, id."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    return [line.split() for line in out.stdout.splitlines()[2:] if line.strip()]


@pytest.mark.browser
@pytest.mark.slow(seconds=6)
@pytest.mark.database_independent
@pytest.mark.django_db(transaction=True)
def test_make_manual_prints_each_manual_in_the_embedded_font(live_server, tmp_path):
    for manual in (GUIDE, STAFF):
        pdf = builder().render_pdf(live_server.url, manual.slug, tmp_path / f"{manual.slug}.pdf")
        fonts = pdffonts(pdf)
        assert fonts, "no font in the PDF"
        assert [row[0] for row in fonts if row[-5] != "yes"] == [], fonts  # every one embedded
        assert any("keiyaku-manual" in row[0] or "IPAex" in row[0] for row in fonts), fonts
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert manual.title in text
        for number, (_anchor, heading) in enumerate(manual.sections, start=1):
            assert f"{number}. {heading}" in text, heading
