"""The English catalogue (R45) covers every string the code marks for translation.

`make messages` (Django's makemessages) is run on a copy of keiyaku/ whose catalogue is the
committed keiyaku/locale/en/LC_MESSAGES/django.po: a string in the code that the committed
catalogue lacks comes out of the merge untranslated, or ``fuzzy`` (gettext's guess from a
similar string, which Django does not use); either fails here, with the strings named. The
committed django.mo must be the committed django.po compiled, since that is what Django reads.

Statically: gettext functions imported under a name xgettext does not know (``gettext_lazy as
_lazy``) hide their strings from makemessages, so they would never reach the catalogue.

Needs GNU gettext (xgettext, msgmerge, msgattrib, msgfmt: `make system-deps`).
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
KEIYAKU = ROOT / "keiyaku"
CATALOGUE = KEIYAKU / "locale" / "en" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")
EXTRACTED = (".py", ".html", ".txt")  # makemessages' extensions for the "django" domain

#: The names makemessages finds strings under: xgettext's own for Python, and those Django adds.
KNOWN_NAMES = {
    "_",
    "gettext",
    "ngettext",
    "gettext_noop",
    "gettext_lazy",
    "ngettext_lazy",
    "pgettext",
    "npgettext",
    "pgettext_lazy",
    "npgettext_lazy",
}
#: The translation functions of django.utils.translation (their other names would hide strings).
TRANSLATING = KNOWN_NAMES - {"_"}


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} (GNU gettext) is missing: `make system-deps` installs it"
    return found


def _msgids(po_text: str) -> list[str]:
    """The msgids of a catalogue written with --no-wrap, header left out."""
    return [m for m in re.findall(r'^msgid "(.*)"$', po_text, flags=re.MULTILINE) if m]


def _attrib(po: Path, *options: str) -> list[str]:
    result = subprocess.run(
        [_tool("msgattrib"), "--no-wrap", "--no-obsolete", *options, str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    return _msgids(result.stdout)


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The committed catalogue after `make messages` on a copy of the code (the working tree is
    not written to: makemessages leaves temporary files next to the templates it reads)."""
    for tool in ("xgettext", "msgmerge", "msguniq", "msgattrib"):
        _tool(tool)
    copy = tmp_path_factory.mktemp("messages")
    for path in KEIYAKU.rglob("*"):
        if path.suffix in EXTRACTED and path.is_file() and "__pycache__" not in path.parts:
            target = copy / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    locale = copy / "keiyaku" / "locale"
    (locale / "en" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copyfile(CATALOGUE, locale / "en" / "LC_MESSAGES" / "django.po")
    monkeypatch = pytest.MonkeyPatch()
    request.addfinalizer(monkeypatch.undo)
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[str(locale)]):
        # The same options as `make messages` (tests, bench, var, docs are not in the copy).
        call_command("makemessages", locale=["en"], verbosity=0)
    return locale / "en" / "LC_MESSAGES" / "django.po"


def test_every_string_in_the_code_is_translated(merged: Path) -> None:
    untranslated = _attrib(merged, "--untranslated", "--no-fuzzy")
    assert not untranslated, (
        f"{len(untranslated)} strings have no English in {CATALOGUE.relative_to(ROOT)}: run "
        "`make messages` and translate them:\n" + "\n".join(untranslated)
    )


def test_no_guessed_translation_is_left(merged: Path) -> None:
    fuzzy = _attrib(merged, "--only-fuzzy")
    assert not fuzzy, (
        f"{len(fuzzy)} entries are marked fuzzy (gettext's guess, not used by Django): run "
        "`make messages`, correct each translation and remove its fuzzy flag:\n" + "\n".join(fuzzy)
    )


def test_the_compiled_catalogue_is_the_committed_one(tmp_path: Path) -> None:
    fresh = tmp_path / "django.mo"
    subprocess.run(
        [_tool("msgfmt"), "--check", "-o", str(fresh), str(CATALOGUE)],
        check=True,
        capture_output=True,
    )
    with fresh.open("rb") as compiled_now, COMPILED.open("rb") as committed:
        now = gettext.GNUTranslations(compiled_now)._catalog  # type: ignore[attr-defined]
        shipped = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
    stale = sorted(str(key) for key in now.keys() ^ shipped.keys())
    stale += sorted(str(key) for key in now.keys() & shipped.keys() if now[key] != shipped[key])
    assert not stale, "django.mo is not django.po compiled: run `make messages`:\n" + "\n".join(
        stale[:20]
    )


def test_gettext_is_imported_under_names_makemessages_reads() -> None:
    hidden = []
    for path in sorted(KEIYAKU.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                for alias in node.names:
                    name = alias.asname or alias.name
                    if alias.name in TRANSLATING and name not in KNOWN_NAMES:
                        hidden.append(
                            f"{path.relative_to(ROOT)}:{node.lineno} {alias.name} as {name}"
                        )
    assert not hidden, "strings behind these names never reach the catalogue:\n" + "\n".join(hidden)
