"""Views turn a refusal into a form error, a message or a JSON body through one helper
(`keiyaku.web.refusals`): no view module catches a refusal itself."""

from __future__ import annotations

import ast
from pathlib import Path

KEIYAKU = Path(__file__).resolve().parent.parent / "keiyaku"
HELPER = KEIYAKU / "web" / "refusals.py"

# Refusal types by name, and the other errors a service turns into one before a view sees it.
NAMED = {
    "Refusal",
    "NotAllowed",
    "ContractError",
    "AddressBookError",
    "AccountsError",
    "SignInRefused",
    "RefusedUpload",
    "CsvError",
    "CsvFileError",
    "OidcError",
}


def refusal_names() -> set[str]:
    """`NAMED` and every class in keiyaku/ that derives from one of them, however deep."""
    bases: dict[str, set[str]] = {}
    for path in KEIYAKU.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_name(base) for base in node.bases)
    names = set(NAMED)
    while grown := {name for name, parents in bases.items() if parents & names} - names:
        names |= grown
    return names


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def view_modules() -> list[Path]:
    found = set(KEIYAKU.rglob("views*.py")) | set(KEIYAKU.rglob("views/*.py"))
    return sorted(found - {HELPER})


def refusals_caught(source: str, names: set[str]) -> list[int]:
    """The line of each `except` in `source` that catches one of `names`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ExceptHandler) or node.type is None:
            continue
        caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        if any(_name(kind) in names for kind in caught):
            lines.append(node.lineno)
    return lines


def test_no_view_catches_a_refusal():
    names = refusal_names()
    modules = view_modules()
    assert KEIYAKU / "web" / "views" / "contracts.py" in modules
    assert KEIYAKU / "accounts" / "views.py" in modules
    caught = [
        f"{path.relative_to(KEIYAKU.parent)}:{line}"
        for path in modules
        for line in refusals_caught(path.read_text(encoding="utf-8"), names)
    ]
    assert not caught, "show refusals with keiyaku.web.refusals.attempt:\n" + "\n".join(caught)


def test_every_app_refusal_is_found_by_name():
    names = refusal_names()
    assert {"ContractError", "AddressBookError", "AccountsError", "SignInRefused"} <= names
    assert {"RefusedUpload", "NotAllowed"} <= names


def test_the_check_sees_a_caught_refusal():
    source = (
        "def view(request):\n"
        "    try:\n"
        "        pass\n"
        "    except (ValueError, services.AccountsError) as exc:\n"
        "        pass\n"
        "    try:\n"
        "        pass\n"
        "    except ValueError:\n"
        "        pass\n"
    )
    assert refusals_caught(source, refusal_names()) == [4]
