"""``make manual``: the staff manual and the counterparty guide (keiyaku/help), screenshots and PDFs.

    .venv/bin/python docs/manual/make_manual.py                 # screenshots, then both PDFs
    .venv/bin/python docs/manual/make_manual.py --pdf-only      # the PDFs from the committed PNGs
    .venv/bin/python docs/manual/make_manual.py --out DIR       # the PDFs elsewhere

1. Screenshots. Runs, with ``KEIYAKU_MANUAL_SHOTS`` set, just the browser tests that call
   ``manual_screenshot`` (tests/browser/screenshots.py, found in their sources), on SQLite; they
   run their journeys as in ``make test`` and save each screen a manual shows. Every name a
   manual shows must have been taken; the PNGs replace those in keiyaku/help/static/help/shots
   (committed: the help pages work without running tests; a PNG no test takes any more goes).
2. PDFs. On a throw-away installation (the trust illustrations' one,
   docs/illustrations/make_trust_illustrations.py), Chromium prints each help page to A4
   (``var/manual/keiyaku-staff.pdf``, ``var/manual/keiyaku-guide.pdf``), in keiyaku's
   IPAex Gothic (the print style sheet's @font-face), which the PDF embeds.

tests/help/test_manual.py checks the names without running anything, and prints a PDF.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "keiyaku" / "help" / "static" / "help" / "shots"
TEMPLATES = ROOT / "keiyaku" / "help" / "templates" / "help"
PDF_OUT = ROOT / "var" / "manual"
# A page number at the foot of every page; Chromium draws it outside the page's own margins.
FOOTER = (
    '<div style="width:100%;font-size:8px;text-align:center;color:#626264">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


def shown_shots() -> set[str]:
    """Every screenshot name the manuals' templates show (``{% shot "name" … %}``)."""
    import re

    pattern = re.compile(r"""{%\s*shot\s+["']([^"']+)["']""")
    return {name for path in TEMPLATES.glob("*.html") for name in pattern.findall(path.read_text())}


def take_screenshots() -> list[str]:
    """Run the browser tests that take screenshots (pytest, SQLite, two workers) into a
    temporary folder and replace the committed PNGs with theirs; returns the names taken.
    Refuses (RuntimeError) when a test fails or a name a manual shows was not taken."""
    from tests.browser.screenshots import SHOTS_ENV, shots_in_tests

    taken_by = shots_in_tests()
    nodes = sorted({node for names in taken_by.values() for node in names})
    with tempfile.TemporaryDirectory(prefix="keiyaku-manual-") as folder:
        env = {**os.environ, SHOTS_ENV: folder, "KEIYAKU_TEST_DATABASE": "sqlite"}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
        command += ["--dist", "loadfile", *nodes]
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError("the browser tests that take the screenshots failed")
        made = {path.stem: path for path in Path(folder).glob("*.png")}
        missing = (set(taken_by) | shown_shots()) - set(made)
        if missing:
            raise RuntimeError(f"no test took: {', '.join(sorted(missing))}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("*.png"):
            if old.stem not in made:
                old.unlink()
        for name, path in made.items():
            shutil.copyfile(path, SHOTS / f"{name}.png")
    return sorted(made)


def render_pdf(site: str, slug: str, path: Path) -> Path:
    """Print the help page of manual ``slug`` ("staff" or "guide") served by the keiyaku at
    ``site`` (base URL, no trailing slash) to an A4 PDF at ``path``, with its page numbers
    and an outline of its headings. Waits until the manuals' font (IPAex Gothic, fetched by the
    print style sheet) and every screenshot have loaded. Opens its own Playwright."""
    from playwright.sync_api import sync_playwright

    path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page(locale="ja-JP")
            page.emulate_media(media="print")
            page.goto(f"{site}/help/{slug}/", wait_until="load")
            loaded = page.evaluate(
                "async () => { await document.fonts.ready;"
                " const faces = await document.fonts.load('16px keiyaku-manual', 'あ');"
                " return faces.length > 0 && [...document.images].every(i => i.complete"
                " && i.naturalWidth > 0); }"
            )
            if not loaded:
                raise RuntimeError(f"{page.url}: the font or a screenshot did not load")
            page.pdf(
                path=str(path),
                format="A4",
                print_background=True,
                margin={"top": "15mm", "bottom": "18mm", "left": "15mm", "right": "15mm"},
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
                outline=True,
                tagged=True,
            )
        finally:
            browser.close()
    return path


def trust_illustrations():  # type: ignore[no-untyped-def]
    """docs/illustrations/make_trust_illustrations.py, a script, loaded as a module (for its
    throw-away installation)."""
    script = ROOT / "docs" / "illustrations" / "make_trust_illustrations.py"
    spec = importlib.util.spec_from_file_location("make_trust_illustrations", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=PDF_OUT, help="folder for the PDFs")
    parser.add_argument("--pdf-only", action="store_true", help="keep the committed screenshots")
    args = parser.parse_args(argv)
    if not args.pdf_only:
        names = take_screenshots()
        print(f"{len(names)} screenshots in {SHOTS.relative_to(ROOT)}")  # noqa: T201
    with trust_illustrations().throwaway_installation() as site:
        logging.disable(logging.WARNING)
        for slug in ("staff", "guide"):
            pdf = render_pdf(site, slug, args.out / f"keiyaku-{slug}.pdf")
            print(f"{pdf}: {pdf.stat().st_size // 1024} KB")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
