"""Screenshots for the manuals (keiyaku/help), taken by the browser journeys themselves.

A journey calls :func:`manual_screenshot` at the moment it shows a screen a manual explains.
It writes a PNG only when ``KEIYAKU_MANUAL_SHOTS`` names a folder (``make manual`` sets it), so
``make test`` pays nothing for it. docs/manual/make_manual.py runs just the tests that call it
(:func:`shots_in_tests`), and tests/help checks that every screenshot a manual shows is one a
test still takes.
"""

from __future__ import annotations

import ast
import io
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from keiyaku.help.templatetags.manual import SHOT_NAME

SHOTS_ENV = "KEIYAKU_MANUAL_SHOTS"
HELPER = "manual_screenshot"
VISIBLE_IMAGES_LOADED = """() => [...document.images].filter(i => {
  const r = i.getBoundingClientRect();
  return r.width > 0 && r.bottom > 0 && r.top < innerHeight;
}).every(i => i.complete && i.naturalWidth > 0)"""
BROWSER_TESTS = Path(__file__).resolve().parent
ROOT = BROWSER_TESTS.parents[1]


def shots_folder() -> Path | None:
    """The folder screenshots go to, or None when none are wanted (every ordinary test run)."""
    folder = os.environ.get(SHOTS_ENV, "")
    return Path(folder) if folder else None


def manual_screenshot(
    page: Any,
    name: str,
    *,
    full_page: bool = False,
    of: Any = None,
    between: tuple[str, str] | None = None,
) -> None:
    """Save what ``page`` (a Playwright page) shows as the manuals' screenshot ``name``
    (``staff-…`` or ``guide-…``, lower case and hyphens), in CSS pixels: the window; the whole
    page when ``full_page``; only the element ``of`` (a locator); or the page's full width from
    the top of the first element matching ``between[0]`` to the bottom of ``between[1]``
    (Playwright selectors), for a long page whose top and bottom say nothing. Does nothing
    unless :data:`SHOTS_ENV` is set. Waits for the page's fonts and the images in the window;
    hides the text cursor."""
    if not SHOT_NAME.match(name):
        raise ValueError(f"screenshot name {name!r}: staff-… or guide-…, lower case and hyphens")
    folder = shots_folder()
    if folder is None:
        return
    page.evaluate("document.fonts.ready.then(() => true)")
    # A page image still loading would show as an empty frame.
    page.wait_for_function(VISIBLE_IMAGES_LOADED, timeout=15_000)
    options = {"caret": "hide", "animations": "disabled", "scale": "css"}
    if of is not None:
        png = of.screenshot(**options)
    elif between is not None:
        png = page.screenshot(full_page=True, clip=_clip(page, *between), **options)
    else:
        png = page.screenshot(full_page=full_page, **options)
    folder.mkdir(parents=True, exist_ok=True)
    write_png(png, folder / f"{name}.png")


def _clip(page: Any, first: str, last: str) -> dict[str, float]:
    """The page area (CSS px, from the document's top) from the top of ``first`` to the bottom
    of ``last``, across the page's width, with a margin around."""
    top = page.locator(first).first.evaluate("e => e.getBoundingClientRect().top + scrollY")
    bottom = page.locator(last).first.evaluate("e => e.getBoundingClientRect().bottom + scrollY")
    width = page.evaluate("document.documentElement.scrollWidth")
    y = max(0, top - 16)
    return {"x": 0, "y": y, "width": width, "height": bottom + 16 - y}


def write_png(png: bytes, path: Path) -> None:
    """Write ``png`` to ``path`` with at most 64 colours (text on flat colours loses nothing
    visible) and zlib's best compression: a page screenshot in tens of KB."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
        small.save(path, format="PNG", optimize=True)


def japanese_fontconfig(folder: Path) -> Path:
    """A fontconfig file adding keiyaku's own Japanese font (IPAex Gothic, keiyaku/fonts) to
    the system's, for Chromium (``FONTCONFIG_FILE``): a machine with no Japanese font would draw
    every character as an empty box."""
    import keiyaku.fonts

    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{Path(keiyaku.fonts.__file__).parent}</dir>\n"
        f"  <cachedir>{folder}</cachedir>\n"
        "</fontconfig>\n"
    )
    return config


def shots_in_tests(folder: Path = BROWSER_TESTS) -> dict[str, list[str]]:
    """Every screenshot name the tests under ``folder`` pass to :func:`manual_screenshot` (as a
    string literal, its second argument), with the pytest node ids (``path::test_name``,
    relative to the repository) of the tests that take it. Read from the sources with ``ast``:
    nothing is imported or run."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(folder.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for test in ast.walk(tree):
            if not isinstance(test, ast.FunctionDef) or not test.name.startswith("test_"):
                continue
            for call in ast.walk(test):
                if not (isinstance(call, ast.Call) and _called(call) == HELPER):
                    continue
                if len(call.args) < 2 or not isinstance(call.args[1], ast.Constant):
                    raise ValueError(f"{path}:{call.lineno}: {HELPER} needs a literal name")
                node = f"{path.relative_to(ROOT)}::{test.name}"
                if node not in found[call.args[1].value]:
                    found[call.args[1].value].append(node)
    return dict(found)


def _called(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""
