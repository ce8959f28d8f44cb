"""The illustrations of docs/trust.md, "Acrobat with keiyaku's own root", made from keiyaku.

    .venv/bin/python docs/illustrations/make_trust_illustrations.py            # into docs/images
    .venv/bin/python docs/illustrations/make_trust_illustrations.py --out DIR  # elsewhere

Acrobat cannot run here, so nothing is a screenshot of it. On a throw-away installation (a
temporary data folder: its own SQLite database, local authority and TSA, deleted at the end)
this completes a real contract through keiyaku's services, as the tests do (tests/flow.py,
tests/conftest.py's personas), and then draws:

- ``trust-root.png``: the ``/trust/`` page as a browser shows it (Playwright on Debian's
  Chromium), down to the table of trust roots: keiyaku's own root, its SHA-256 fingerprint and
  the PEM download (step 1 of the section);
- ``trust-signed-page.png``: the completed contract PDF's signature page as ``pdftoppm``
  renders it: what a reader sees of the document (step 5);
- ``trust-verified.png``: the verdict of keiyaku's public verification page for that same PDF,
  uploaded with the browser (to compare with Acrobat's signature panel);

and prints ``pdfsig``'s report of that PDF, which the section quotes as text.

tests/docs/test_trust_illustrations.py runs :func:`complete_contract` and :func:`illustrate`
on the test suite's own database and live server, so a change that breaks the generator fails
``make test``.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
# What each image shows; docs/trust.md links them under these names.
TRUST_ROOT = "trust-root.png"
SIGNED_PAGE = "trust-signed-page.png"
VERIFIED = "trust-verified.png"
IMAGES = (TRUST_ROOT, SIGNED_PAGE, VERIFIED)

TITLE = "令和8年度 公園整備工事 請負契約"
COUNTERPARTY = ("株式会社髙橋建設", "髙橋 一郎", "takahashi@takahashi-kensetsu.example.jp", "4321")
# A desktop browser window, in CSS px.
VIEWPORT = {"width": 1200, "height": 900}
# pdftoppm's resolution for the page: 100 dpi makes an A4 page 827 px wide, readable on screen.
PAGE_DPI = 100
# Where the signature block starts, in PDF points from the top of the page (as a box's y).
SIGNATURE_BLOCK_TOP = 560.0


def contract_pdf() -> bytes:
    """A one-page A4 works contract with a signature block (発注者, 受注者) at its foot, where
    :func:`complete_contract` places each party's boxes. reportlab, keiyaku's embedded font."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from keiyaku.fonts import register_reportlab_font

    font = register_reportlab_font()
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True, initialFontName=font)
    page.setTitle("工事請負契約書")
    width, height = A4
    page.setFont(font, 18)
    page.drawCentredString(width / 2, height - 30 * mm, "工事請負契約書")
    page.setFont(font, 10.5)
    lines = (
        "1 工事名　　令和8年度 公園整備工事",
        "2 工事場所　テスト市中央区公園町1丁目",
        "3 工期　　　令和8年4月1日から令和8年9月30日まで",
        "4 請負代金額　金9,800,000円（うち取引に係る消費税及び地方消費税の額 金890,909円）",
        "",
        "第1条（総則）発注者及び受注者は、この契約書に基づき、頭書の工事の請負契約を締結する。",
        "第2条（工期）受注者は、頭書の工期内に工事を完成し、目的物を発注者に引き渡す。",
        "第3条（検査及び引渡し）受注者は、工事が完成したときは、その旨を発注者に通知する。",
        "第4条（請負代金の支払い）発注者は、引渡しを受けた日から40日以内に請負代金を支払う。",
        "",
        "この契約の証として、電子署名を行い、発注者及び受注者が電磁的記録を保管する。",
    )
    y = height - 50 * mm
    for line in lines:
        page.drawString(20 * mm, y, line)
        y -= 8 * mm
    # The signature block: labels printed in the document, boxes filled by the parties.
    for top, who in ((SIGNATURE_BLOCK_TOP, "発注者"), (SIGNATURE_BLOCK_TOP + 90, "受注者")):
        page.drawString(20 * mm, height - top - 14, who)
        page.line(40 * mm, height - top - 20, width - 20 * mm, height - top - 20)
        page.line(40 * mm, height - top - 50, width - 20 * mm, height - top - 50)
    page.showPage()
    page.save()
    return out.getvalue()


def complete_contract(personas: Any) -> bytes:
    """The final PDF (bytes) of a contract that a counterparty and the mayor of ``personas``
    (tests/conftest.py's Personas, on the current database) signed, each filling its name and
    the date in the signature block. Calls the services and the signing pages as tests/flow.py
    does; needs a TSA in ``KEIYAKU_TSA_URLS`` and jobs run inline (``KEIYAKU_TASKS_IMMEDIATE``).
    Must not run in a thread where Playwright's event loop is open (pyHanko runs its own)."""
    from django.test import Client

    from keiyaku.contracts import services
    from keiyaku.contracts.services.boxes import box_create
    from keiyaku.contracts.services.drafting import Upload
    from keiyaku.storage.blobs import blob_get
    from tests.flow import agree, last_link

    company, name, email, code = COUNTERPARTY
    contract = services.contract_create(
        actor=personas.sender,
        title=TITLE,
        management_number="R8-公園-007",
        counterparty_company=company,
        amount=9_800_000,
        uploads=[Upload(filename="工事請負契約書.pdf", data=contract_pdf())],
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=company,
        name=name,
        email=email,
        access_code=code,
    )
    services.party_add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)
    mayor_party = contract.parties.get(staff=personas.mayor)
    counterparty = contract.parties.get(email=email)
    document = contract.documents.get()
    values: dict[int, dict[str, str]] = {}
    for offset, party, text in (
        (0, mayor_party, f"{personas.org.name} {personas.mayor.display_name}"),
        (90, counterparty, f"{company} 代表取締役 {name}"),
    ):
        top = SIGNATURE_BLOCK_TOP + offset
        name_box = box_create(
            document=document,
            actor=personas.sender,
            data={
                "page": 1,
                "x": 118,
                "y": top + 2,
                "width": 330,
                "height": 18,
                "party": party.pk,
                "kind": "text",
                "label": "記名",
            },
        )
        date_box = box_create(
            document=document,
            actor=personas.sender,
            data={
                "page": 1,
                "x": 118,
                "y": top + 30,
                "width": 160,
                "height": 18,
                "party": party.pk,
                "kind": "date",
                "label": "日付",
            },
        )
        values[party.pk] = {f"box_{name_box.pk}": text, f"box_{date_box.pk}": _today()}
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(email), code, values[counterparty.pk])
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email), values=values[mayor_party.pk])
    contract.refresh_from_db()
    if contract.status != "completed":
        raise RuntimeError(f"the contract did not complete: {contract.status}")
    return bytes(blob_get(contract.documents.get().current_version().blob))


def _today() -> str:
    from django.utils import timezone

    return timezone.localdate().isoformat()


def illustrate(*, site: str, pdf: bytes, out: Path) -> dict[str, Path]:
    """Draw the three images of :data:`IMAGES` into folder ``out`` (created if missing) from
    the keiyaku at ``site`` (its base URL, no trailing slash) and the completed contract
    ``pdf`` (bytes) it signed; returns each image's path by name.

    The browser is a page, never a window: no address bar (whose loopback URL would mislead a
    reader). Opens and closes its own Playwright, so call it where no Playwright is open.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser.screenshots import japanese_fontconfig, write_png

    out.mkdir(parents=True, exist_ok=True)
    made = {SIGNED_PAGE: out / SIGNED_PAGE}
    write_png(render_signed_page(pdf), made[SIGNED_PAGE])
    with tempfile.TemporaryDirectory(prefix="keiyaku-illustration-") as scratch:
        upload = Path(scratch) / "工事請負契約書.pdf"
        upload.write_bytes(pdf)
        fonts = japanese_fontconfig(Path(scratch))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
                env={**os.environ, "FONTCONFIG_FILE": str(fonts)},
            )
            try:
                context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
                page = context.new_page()
                page.goto(f"{site}/trust/")
                _require_fits(page)
                # Down to the roots table: below it the TSA list names this machine's hosts.
                made[TRUST_ROOT] = out / TRUST_ROOT
                write_png(
                    page.screenshot(
                        full_page=True, clip=_clip(page, "header.site", "#trust-roots-table")
                    ),
                    made[TRUST_ROOT],
                )
                page.goto(f"{site}/verify/")
                page.set_input_files("#id_file", str(upload))
                page.get_by_role("button", name="検証する").click()
                page.locator("#verify-result").wait_for()
                _require_fits(page)
                if page.locator("#verify-result").get_attribute("data-ok") != "true":
                    raise RuntimeError("keiyaku's verification page does not find the PDF valid")
                made[VERIFIED] = out / VERIFIED
                write_png(
                    page.screenshot(
                        full_page=True, clip=_clip(page, "#verify-result", "#verify-result + table")
                    ),
                    made[VERIFIED],
                )
            finally:
                browser.close()
    return made


def _require_fits(page: Any) -> None:
    """Refuse a page wider than the window: a desktop page that scrolls sideways is a layout
    fault to fix, not to illustrate (the trust roots table once did, its fingerprints
    unbreakable)."""
    wide = page.evaluate("document.documentElement.scrollWidth")
    if wide > VIEWPORT["width"]:
        raise RuntimeError(f"{page.url}: {wide} px wide in a {VIEWPORT['width']} px window")


def _clip(page: Any, first: str, last: str) -> dict[str, float]:
    """The page area (CSS px) from the top of ``first`` to the bottom of ``last``, across the
    page's full width, and a margin below."""
    top = page.locator(first).first.bounding_box()
    bottom = page.locator(last).first.bounding_box()
    width = page.evaluate("document.documentElement.scrollWidth")
    y = max(0, top["y"] - 12)
    return {"x": 0, "y": y, "width": width, "height": bottom["y"] + bottom["height"] + 12 - y}


def render_signed_page(pdf: bytes) -> bytes:
    """Page 1 of ``pdf`` as pdftoppm (poppler) renders it at :data:`PAGE_DPI`, as PNG bytes:
    what any PDF reader draws of the document. keiyaku's signatures are invisible (signature
    panel only); what the parties filled in (their boxes) is drawn on the page."""
    with tempfile.TemporaryDirectory(prefix="keiyaku-illustration-") as scratch:
        source = Path(scratch) / "contract.pdf"
        source.write_bytes(pdf)
        command = ["pdftoppm", "-png", "-r", str(PAGE_DPI), "-f", "1", "-l", "1", "-singlefile"]
        command += [str(source), str(Path(scratch) / "page")]
        subprocess.run(command, capture_output=True, check=True)  # noqa: S603 - fixed arguments
        return (Path(scratch) / "page.png").read_bytes()


def pdfsig_report(pdf: bytes, *, trusted_root: bytes | None = None) -> str:
    """``pdfsig``'s report of ``pdf`` (its signatures, signers, times, validity), with the
    temporary file's name taken out. ``trusted_root`` (PEM or DER bytes): pdfsig is given an
    NSS database trusting that root, as a reader does once the root is imported (steps 2-4);
    without it pdfsig knows only the system's roots."""
    with tempfile.TemporaryDirectory(prefix="keiyaku-illustration-") as scratch:
        path = Path(scratch) / "contract.pdf"
        path.write_bytes(pdf)
        command = ["pdfsig"]
        if trusted_root is not None:
            nss = Path(scratch) / "nss"
            nss.mkdir()
            root = Path(scratch) / "root.pem"
            root.write_bytes(trusted_root)
            for step in (
                ["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"],
                ["certutil", "-A", "-d", f"sql:{nss}", "-n", "keiyaku Root CA", "-t", "CT,C,C"]
                + ["-a" if trusted_root.startswith(b"-----") else "-r", "-i", str(root)],
            ):
                subprocess.run(step, capture_output=True, check=True)  # noqa: S603
            command += ["-nssdir", f"sql:{nss}"]
        done = subprocess.run(  # noqa: S603
            [*command, str(path)], capture_output=True, text=True, check=False, timeout=120
        )
        return done.stdout.replace(str(path), "工事請負契約書.pdf")


@contextmanager
def throwaway_installation() -> Iterator[str]:
    """A keiyaku for the illustrations, in this process: the test settings (tests/settings.py)
    over a temporary data folder (SQLite database, local authority, stored files), migrated,
    with tests/conftest.py's personas, keiyaku's TSA and a web server on loopback. Yields the
    web server's base URL; everything is deleted at the end."""
    with tempfile.TemporaryDirectory(prefix="keiyaku-illustrations-") as folder:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="tests.settings",
            KEIYAKU_DATA_DIR=folder,
            KEIYAKU_TEST_DATABASE="sqlite",
            KEIYAKU_TASKS_IMMEDIATE="1",
        )
        for name in ("KEIYAKU_DATABASE_URL", "KEIYAKU_STORAGE_URL", "KEIYAKU_TEST_STORAGE"):
            os.environ.pop(name, None)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from pytest_django.live_server_helper import LiveServer

        from tests.conftest import _TsaHandler

        call_command("migrate", verbosity=0)
        # keiyaku's own TSA answering on loopback, as in the tests (conftest's keiyaku_tsa_url).
        tsa = ThreadingHTTPServer(("127.0.0.1", 0), _TsaHandler)
        threading.Thread(target=tsa.serve_forever, daemon=True).start()
        server = LiveServer("127.0.0.1:0")
        try:
            settings.KEIYAKU_TSA_URLS = [f"http://127.0.0.1:{tsa.server_address[1]}/tsa"]
            settings.PUBLIC_URL = server.url
            yield server.url
        finally:
            server.stop()
            tsa.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    with throwaway_installation() as site:
        logging.disable(logging.WARNING)  # the requests and jobs of the throw-away installation
        from tests.conftest import Personas

        pdf = complete_contract(Personas())
        made = illustrate(site=site, pdf=pdf, out=args.out)
        from keiyaku.pki.service import get_authority

        # pdfsig asks the certificates' OCSP responder, this installation's web server: while it runs.
        untrusted = pdfsig_report(pdf)
        trusted = pdfsig_report(pdf, trusted_root=get_authority().root_pem())
    for name, path in made.items():
        print(f"{path}: {path.stat().st_size // 1024} KB ({name})")  # noqa: T201
    print("\npdfsig, keiyaku's root not trusted:\n" + untrusted)  # noqa: T201
    print("pdfsig -nssdir (keiyaku's root trusted):\n" + trusted)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
