"""The state machine has one home (keiyaku/contracts/states.py).

The tables below state the rule a second time, so that a change to a group, a label, a
transition or a dead-link page has to be made knowingly, in both places.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from keiyaku.contracts import services, states
from keiyaku.contracts.mail_table import MailEvent
from keiyaku.contracts.models import Party
from keiyaku.contracts.services.notify import party_notify
from keiyaku.contracts.states import ContractStatus, LinkState, PartyStatus
from keiyaku.notifications.models import CapturedMail
from tests.flow import External, agree, draft_contract, last_link

JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")

CONTRACT_MEMBERSHIP: dict[ContractStatus, set[str]] = {
    ContractStatus.DRAFT: {"editable", "open"},
    ContractStatus.IN_PROGRESS: {"running", "open"},
    ContractStatus.COMPLETED: {"finished", "concluded"},
    ContractStatus.REJECTED: {"finished"},
    ContractStatus.CANCELLED: {"finished", "cancelled"},
    ContractStatus.EXPIRED: {"finished"},
}

PARTY_MEMBERSHIP: dict[PartyStatus, set[str]] = {
    PartyStatus.WAITING: {"pending", "active", "counted"},
    PartyStatus.NOTIFIED: {"pending", "holding", "active", "counted", "asked"},
    PartyStatus.AGREED: {"holding", "agreed", "active", "counted", "signing"},
    PartyStatus.SIGNED: {"done", "agreed", "active", "counted", "signed"},
    PartyStatus.APPROVED: {"done", "agreed", "active", "counted"},
    PartyStatus.REJECTED: {"counted"},
    PartyStatus.FORWARDED: set(),
}

INITIAL = {ContractStatus.DRAFT, PartyStatus.WAITING}


def in_both_languages(text: object) -> tuple[str, str]:
    """The text in Japanese and in English; English must be a translation, not the fallback."""
    with translation.override("ja"):
        ja = str(text)
    with translation.override("en"):
        en = str(text)
    assert JAPANESE.search(ja), ja
    assert en != ja and not JAPANESE.search(en), f"no English for {ja!r}: {en!r}"
    return ja, en


# --- acceptance 1: every state, its groups, labels, transitions and link page ---------------


@pytest.mark.parametrize("status", list(ContractStatus))
def test_contract_state_belongs_to_exactly_its_groups(status):
    assert {name for name, group in states.CONTRACT_GROUPS.items() if status in group} == (
        CONTRACT_MEMBERSHIP[status]
    )


@pytest.mark.parametrize("status", list(PartyStatus))
def test_party_state_belongs_to_exactly_its_groups(status):
    assert {name for name, group in states.PARTY_GROUPS.items() if status in group} == (
        PARTY_MEMBERSHIP[status]
    )


def test_the_tables_cover_every_state():
    assert set(CONTRACT_MEMBERSHIP) == set(ContractStatus)
    assert set(PARTY_MEMBERSHIP) == set(PartyStatus)


@pytest.mark.parametrize("status", [*ContractStatus, *PartyStatus, *LinkState])
def test_every_state_has_a_japanese_and_an_english_label(status):
    in_both_languages(status.label)


@pytest.mark.parametrize(
    ("choices", "transitions"),
    [
        (ContractStatus, states.CONTRACT_TRANSITIONS),
        (PartyStatus, states.PARTY_TRANSITIONS),
    ],
)
def test_every_state_is_in_the_transitions_table(choices, transitions):
    assert set(transitions) == set(choices)
    targets = set().union(*transitions.values())
    assert targets <= set(choices)
    # Every state but the first is reached from another one.
    assert targets == set(choices) - INITIAL


def test_sources_are_read_from_the_transitions():
    assert states.party_sources(PartyStatus.NOTIFIED) == [PartyStatus.WAITING]
    assert states.party_sources(PartyStatus.SIGNED) == [PartyStatus.AGREED]
    assert states.contract_sources(ContractStatus.COMPLETED) == [ContractStatus.IN_PROGRESS]
    assert set(states.contract_sources(ContractStatus.CANCELLED)) == states.CONTRACT_OPEN


def test_every_contract_and_party_state_leads_to_a_link_page_in_both_languages():
    seen = set()
    for contract_status, party_status, revoked, expired, locked in itertools.product(
        ContractStatus, PartyStatus, (False, True), (False, True), (False, True)
    ):
        state = states.sign_link_state_of(
            contract_status=contract_status,
            party_status=party_status,
            revoked=revoked,
            expired=expired,
            locked=locked,
        )
        assert isinstance(state, LinkState)
        seen.add(state)
    for revoked, expired in itertools.product((False, True), repeat=2):
        seen.add(states.download_link_state_of(revoked=revoked, expired=expired))
    # Every page can be reached, and each has its text and HTTP status.
    assert seen == set(LinkState)
    for state in seen:
        ja, en = in_both_languages(states.LINK_DEAD_TEXT[state])
        assert (ja % {"organisation": "テスト市"}).count("テスト市") == ja.count("%(organisation)s")
        assert en.count("%(organisation)s") == ja.count("%(organisation)s")
        assert states.LINK_HTTP_STATUS[state] == {
            LinkState.OK: 200,
            LinkState.INVALID: 404,
        }.get(state, 410)


def test_a_link_tells_the_contracts_end_before_the_partys_own_action():
    def of(contract_status, party_status, **link):
        flags = {"revoked": False, "expired": False, "locked": False} | link
        return states.sign_link_state_of(
            contract_status=contract_status, party_status=party_status, **flags
        )

    assert of(ContractStatus.CANCELLED, PartyStatus.SIGNED, revoked=True) == LinkState.CANCELLED
    assert of(ContractStatus.IN_PROGRESS, PartyStatus.SIGNED, revoked=True) == LinkState.USED
    assert of(ContractStatus.IN_PROGRESS, PartyStatus.FORWARDED) == LinkState.FORWARDED
    assert of(ContractStatus.IN_PROGRESS, PartyStatus.NOTIFIED, revoked=True) == LinkState.REVOKED
    assert of(ContractStatus.IN_PROGRESS, PartyStatus.NOTIFIED, locked=True) == LinkState.LOCKED
    assert of(ContractStatus.IN_PROGRESS, PartyStatus.NOTIFIED) == LinkState.OK


# --- acceptance 2: nothing outside states.py compares a status to a string ------------------

PACKAGE = Path(__file__).resolve().parents[2] / "keiyaku"
STATES_MODULE = PACKAGE / "contracts" / "states.py"
STATE_VALUES = sorted({s.value for s in (*ContractStatus, *PartyStatus, *LinkState)})


def _names_a_state(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return isinstance(node, ast.Attribute | ast.Name) and name.lower().endswith(("status", "state"))


def _is_text(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return bool(node.elts) and all(_is_text(e) for e in node.elts)
    return False


def python_violations(root: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if path == root / STATES_MODULE.relative_to(PACKAGE) or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            for left, right in itertools.pairwise(operands):
                if (_names_a_state(left) and _is_text(right)) or (
                    _names_a_state(right) and _is_text(left)
                ):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


TAG = re.compile(r"{%-?\s*(?:if|elif)\b(.*?)-?%}", re.S)
STATE_NAME = r"[\w.]*(?:status|state)\b"
TEXT = r"""(?:"[^"]*"|'[^']*')"""
COMPARISON = re.compile(
    rf"{STATE_NAME}\s*(?:==|!=|\bin\b|\bnot in\b)\s*{TEXT}"
    rf"|{TEXT}\s*(?:==|!=|\bin\b|\bnot in\b)\s*{STATE_NAME}"
    rf"""|(?:==|!=)\s*["'](?:{"|".join(STATE_VALUES)})["']"""
    rf"""|["'](?:{"|".join(STATE_VALUES)})["']\s*(?:==|!=)""",
    re.I,
)


def template_violations(root: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.html")):
        text = path.read_text()
        for tag in TAG.finditer(text):
            if COMPARISON.search(tag.group(1)):
                line = text.count("\n", 0, tag.start()) + 1
                found.append(f"{path.relative_to(root.parent)}:{line}: {tag.group(0)[:80]}")
    return found


def test_no_python_module_compares_a_status_to_a_string():
    violations = python_violations()
    assert not violations, "ask keiyaku.contracts.states instead:\n" + "\n".join(violations)


def test_no_template_compares_a_status_to_a_string():
    violations = template_violations()
    assert not violations, "ask a predicate (contract.is_editable …):\n" + "\n".join(violations)


def test_the_checks_see_what_they_look_for(tmp_path):
    """The two checks above would pass on nothing; here they must find every kind."""
    package = tmp_path / "keiyaku"
    (package / "contracts" / "migrations").mkdir(parents=True)
    (package / "contracts" / "states.py").write_text('x = status == "draft"\n')
    (package / "contracts" / "migrations" / "0001.py").write_text('x = status == "draft"\n')
    (package / "bad.py").write_text(
        'a = contract.status == "draft"\n'
        'b = "ok" != lookup.state\n'
        'c = party.status in ("waiting", "notified")\n'
        'd = state not in {"ok"}\n'
        "e = contract.status == ContractStatus.DRAFT\n"  # fine: a member, not a string
        'f = party.kind == "external"\n'  # fine: not a state
    )
    assert python_violations(package) == [
        "keiyaku/bad.py:1",
        "keiyaku/bad.py:2",
        "keiyaku/bad.py:3",
        "keiyaku/bad.py:4",
    ]
    (package / "page.html").write_text(
        '{% if contract.status == "draft" %}\n'
        "{% elif m.status != 'failed' %}\n"
        '{% if state == "locked" or x %}\n'
        '{% if p.kind == "external" and p.can_act %}\n'
        '{% if "in_progress" == contract.status %}\n'
        '<span class="status {{ contract.status }}">\n'
        '{% if x.y == "completed" %}\n'
    )
    assert [v.split(": ")[0] for v in template_violations(package)] == [
        "keiyaku/page.html:1",
        "keiyaku/page.html:2",
        "keiyaku/page.html:3",
        "keiyaku/page.html:5",
        "keiyaku/page.html:7",
    ]


# --- the request is sent only from a state that allows it -----------------------------------

A = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")
B = External("佐藤工業株式会社", "佐藤 次郎", "sato@example.jp", "2222")


@pytest.mark.django_db(transaction=True)
def test_a_signed_party_is_not_notified_again(personas):
    contract = draft_contract(personas.sender, externals=[A, B])
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(A.email), A.code)
    party = Party.objects.get(contract=contract, email=A.email)
    assert party.status == PartyStatus.SIGNED
    mails, links = CapturedMail.objects.count(), party.links.count()

    party_notify(party=party)

    party.refresh_from_db()
    assert party.status == PartyStatus.SIGNED
    assert (CapturedMail.objects.count(), party.links.count()) == (mails, links)


@pytest.mark.django_db(transaction=True)
def test_no_party_is_notified_in_a_finished_contract(personas):
    contract = draft_contract(personas.sender, externals=[A, B])
    services.contract_send(contract=contract, actor=personas.sender)
    services.contract_cancel(contract=contract, actor=personas.sender, reason="入札のやり直し")
    waiting = Party.objects.get(contract=contract, email=B.email)
    asked = Party.objects.get(contract=contract, email=A.email)
    mails = CapturedMail.objects.count()

    party_notify(party=waiting)
    party_notify(party=asked, event=MailEvent.REMINDER)

    assert {p.email: p.status for p in contract.parties.all()} == {
        A.email: PartyStatus.NOTIFIED,
        B.email: PartyStatus.WAITING,
    }
    assert CapturedMail.objects.count() == mails
    assert not waiting.links.exists()


@pytest.mark.django_db(transaction=True)
def test_a_waiting_party_is_asked_once(personas):
    """Two runs of the routing at once (parallel agreements) ask the next party once."""
    contract = draft_contract(personas.sender, externals=[A, B])
    services.contract_send(contract=contract, actor=personas.sender)
    # Each run read the party while it was still waiting.
    first, second = (Party.objects.get(contract=contract, email=B.email) for _ in range(2))

    party_notify(party=first)
    party_notify(party=second)

    first.refresh_from_db()
    assert first.status == PartyStatus.NOTIFIED
    assert CapturedMail.objects.filter(to=B.email).count() == 1
    assert first.links.count() == 1


STATE_ENUMS = {"ContractStatus", "PartyStatus"}


def _member(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in STATE_ENUMS
    )


def single_state_reads(root: Path = PACKAGE) -> list[str]:
    """Reads that pick one state by name (`status == PartyStatus.NOTIFIED`,
    `filter(status=PartyStatus.SIGNED)`, `exclude(status=PartyStatus.FORWARDED)`): each decides
    a rule (who is reminded, who counts, when a link is dead) that states.py should name. The
    acceptance test only looks for string literals, so these pass it. Writes (`update`,
    `create`) are transitions and are not counted."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts or path.name == "states.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Compare) and any(
                _member(o) for o in [node.left, *node.comparators]
            ):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("filter", "exclude", "get")
            ):
                for keyword in node.keywords:
                    if keyword.arg and "status" in keyword.arg and _member(keyword.value):
                        found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


def test_no_state_rule_is_decided_by_naming_one_state_outside_the_state_module():
    """followup.py:73/179, notify.py:28/110, progress.py:161, routing.py:22, templates.py:51 and
    applications/selectors.py:69 decide a state rule by one enum member, not a states.py
    group or predicate (the acceptance heuristic sees only string literals)."""
    assert single_state_reads() == []
