"""With the UI in English, every refusal is shown in English (Japanese stays the default).

Two checks. At run time: a broad set of refusals, triggered through the screens and through
the services, is made and shown in the language of the request; the `refusals_seen` fixture
(tests/refusal_recorder.py) records each with the language active when it was made. Statically:
no refusal in keiyaku/ is raised with a Japanese literal (it must go through `gettext`).
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM
from keiyaku.contracts import services
from keiyaku.contracts.services.boxes import box_values_clean
from tests.flow import External, draft_contract
from tests.pdfs import make_encrypted_pdf
from tests.refusal_recorder import SeenRefusal
from tests.web.sending import send_confirmed

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KEIYAKU = Path(__file__).resolve().parent.parent / "keiyaku"

FIRM = External("Acme Ltd", "Jane Doe", "jane@example.com", "2468")


# --- triggers ------------------------------------------------------------------------------


@dataclass
class Env:
    personas: object
    language: str

    def client(self, user: Staff | None = None) -> Client:
        """A browser with the UI switched to this language (the header's language buttons)."""
        client = Client()
        if user is not None:
            client.force_login(user)
        response = client.post("/i18n/setlang/", {"language": self.language, "next": "/login/"})
        assert response.status_code == 302
        return client

    def service(self, action: Callable[[], object]) -> None:
        """Call a service as a request in this language would."""
        from keiyaku.refusals import Refusal

        with translation.override(self.language), pytest.raises(Refusal):
            action()

    @property
    def sender(self) -> Staff:
        return self.personas.sender  # type: ignore[attr-defined]

    @property
    def admin(self) -> Staff:
        return self.personas.admin  # type: ignore[attr-defined]


def _page(response) -> str:
    """What the user reads: the page after any redirect, as text."""
    assert response.status_code != 500
    return html.unescape(response.content.decode())


@dataclass(frozen=True)
class Trigger:
    name: str
    run: Callable[[Env], str | None]
    """Makes one or more refusals; returns what the user is shown (None for a service call)."""


def _upload_not_a_pdf(env: Env) -> str:
    response = env.client(env.sender).post(
        "/contracts/new/",
        {"title": "Road repair", "files": SimpleUploadedFile("a.pdf", b"hello", "application/pdf")},
    )
    assert response.status_code == 400
    return _page(response)


def _upload_encrypted_pdf(env: Env) -> str:
    contract = draft_contract(env.sender)
    response = env.client(env.sender).post(
        f"/contracts/{contract.pk}/documents/",
        {"file": SimpleUploadedFile("locked.pdf", make_encrypted_pdf(), "application/pdf")},
        follow=True,
    )
    return _page(response)


def _create_without_title(env: Env) -> None:
    env.service(lambda: services.contract_create(actor=env.sender, title=" ", uploads=[]))


def _send_without_signers(env: Env) -> str:
    contract = draft_contract(env.sender)
    return _page(send_confirmed(env.client(env.sender), contract, follow=True))


def _cancel_without_reason(env: Env) -> None:
    contract = draft_contract(env.sender)
    env.service(lambda: services.contract_cancel(contract=contract, actor=env.sender, reason=""))


def _viewer_changes_a_contract(env: Env) -> None:
    from keiyaku.contracts.permissions import require_contract_change

    contract = draft_contract(env.sender)
    viewer = env.personas.viewer  # type: ignore[attr-defined]
    env.service(lambda: require_contract_change(viewer, contract))


def _reject_without_reason(env: Env) -> None:
    party = draft_contract(env.sender, externals=[FIRM]).parties.get()
    env.service(lambda: services.party_reject(party=party, reason=" ", meta=SYSTEM))


def _forward_a_staff_request(env: Env) -> None:
    contract = draft_contract(env.sender, staff_signers=[env.personas.mayor])  # type: ignore[attr-defined]
    party = contract.parties.get()
    env.service(
        lambda: services.party_forward(
            party=party, name="John Roe", email="john@example.com", meta=SYSTEM
        )
    )


def _fill_a_box_of_another_party(env: Env) -> None:
    party = draft_contract(env.sender, externals=[FIRM]).parties.get()
    env.service(lambda: box_values_clean(party, {"box_999999": "x"}))


def _box_off_the_document(env: Env) -> str:
    contract = draft_contract(env.sender, externals=[FIRM])
    response = env.client(env.sender).post(
        f"/contracts/{contract.pk}/boxes.json",
        json.dumps(
            {
                "document": contract.documents.get().pk,
                "page": 9,
                "x": 1,
                "y": 1,
                "width": 50,
                "height": 20,
                "party": contract.parties.get().pk,
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["field"] == "page"
    return response.json()["error"]


def _template_without_name(env: Env) -> str:
    contract = draft_contract(env.sender, externals=[FIRM])
    return _page(
        env.client(env.sender).post(
            f"/contracts/{contract.pk}/save-template/", {"name": " "}, follow=True
        )
    )


def _share_twice(env: Env) -> str:
    contract = draft_contract(env.sender)
    client = env.client(env.sender)
    mayor = env.personas.mayor  # type: ignore[attr-defined]
    client.post(f"/contracts/{contract.pk}/shares/", {"staff": mayor.pk})
    return _page(client.post(f"/contracts/{contract.pk}/shares/", {"staff": mayor.pk}, follow=True))


def _application_without_company(env: Env) -> None:
    from keiyaku.applications.services import application_send

    contract = draft_contract(env.sender)
    env.service(
        lambda: application_send(contract=contract, actor=env.sender, company=" ", email=" ")
    )


def _company_twice(env: Env) -> str:
    client = env.client(env.sender)
    form = {"name": "Acme Ltd", "visibility": "shared"}
    client.post("/addressbook/companies/new/", form)
    response = client.post("/addressbook/companies/new/", form)
    assert response.status_code == 400
    return _page(response)


def _contact_twice(env: Env) -> str:
    from keiyaku.addressbook.services import company_create

    company = company_create(actor=env.sender, name="Acme Ltd")
    client = env.client(env.sender)
    form = {"name": FIRM.name, "email": FIRM.email}
    client.post(f"/addressbook/companies/{company.pk}/contacts/new/", form)
    response = client.post(f"/addressbook/companies/{company.pk}/contacts/new/", form)
    assert response.status_code == 400
    return _page(response)


def _csv_not_text(env: Env) -> str:
    response = env.client(env.sender).post(
        "/addressbook/import/",
        {
            "file": SimpleUploadedFile("a.csv", b"\x82\xa0\xff\xfe\x00\x81", "text/csv"),
            "visibility": "shared",
        },
    )
    assert response.status_code == 400
    return _page(response)


def _staff_login_id_taken(env: Env) -> str:
    response = env.client(env.admin).post(
        "/admin-org/staff/new/",
        {
            "display_name": "Sam",
            "username": "sender",
            "email": "sam@example.com",
            "roles": ["viewer"],
        },
    )
    assert response.status_code == 400
    return _page(response)


def _department_twice(env: Env) -> str:
    client = env.client(env.admin)
    client.post("/admin-org/departments/", {"name": "Legal"})
    response = client.post("/admin-org/departments/", {"name": "Legal"})
    assert response.status_code == 400
    return _page(response)


def _bad_ip_allowlist(env: Env) -> str:
    response = env.client(env.admin).post(
        "/admin-org/settings/", {"ip_allowlist": "not-an-address"}
    )
    assert response.status_code == 400
    return _page(response)


def _staff_csv_with_errors(env: Env) -> str:
    response = env.client(env.admin).post(
        "/admin-org/staff/import/apply/", {"payload": "no,header\r\n"}, follow=True
    )
    return _page(response)


def _wrong_password(env: Env) -> str:
    return _page(env.client().post("/login/", {"username": "sender", "password": "wrong"}))


def _wrong_enrolment_code(env: Env) -> str:
    client = env.client(env.sender)
    client.get("/account/security/totp/")
    return _page(client.post("/account/security/totp/", {"code": "000000"}))


def _recovery_codes_without_totp(env: Env) -> str:
    client = env.client(env.sender)
    return _page(client.post("/account/security/recovery-codes/renew/", follow=True))


def _identity_provider_unreachable(env: Env) -> str:
    from django.test import override_settings

    from keiyaku.login.services import PolicyValues, organisation_signin_update

    # The operator allowed the loopback address; nothing listens on its port 9.
    with override_settings(KEIYAKU_OUTBOUND_ALLOW=["127.0.0.1/32"]):
        organisation_signin_update(
            organisation=env.admin.organisation,
            actor=env.admin,
            values=PolicyValues(
                totp_required=False,
                session_timeout_minutes=60,
                oidc_enabled=True,
                oidc_issuer="http://127.0.0.1:9",
                oidc_client_id="keiyaku",
                oidc_client_secret="secret",
                oidc_match="email",
                oidc_create_users=False,
            ),
            meta=SYSTEM,
        )
        response = env.client().get("/login/oidc/test-city/")
    assert response.status_code == 502
    return _page(response)


def _title_on_two_lines(env: Env) -> None:
    env.service(lambda: draft_contract(env.sender, title="Road repair\r\nBcc: x@example.com"))


def _forward_note_with_a_control_character(env: Env) -> None:
    party = draft_contract(env.sender, externals=[FIRM]).parties.get()
    env.service(
        lambda: services.party_forward(
            party=party, name="John Roe", email="john@example.com", note="a\x07b", meta=SYSTEM
        )
    )


def _box(env: Env, **values: object) -> str:
    contract = draft_contract(env.sender, externals=[FIRM])
    data = {
        "document": contract.documents.get().pk,
        "page": 1,
        "x": 10,
        "y": 10,
        "width": 50,
        "height": 20,
        "party": contract.parties.get().pk,
        **values,
    }
    response = env.client(env.sender).post(
        f"/contracts/{contract.pk}/boxes.json", json.dumps(data), content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["field"] in values
    return response.json()["error"]


def _box_label_on_two_lines(env: Env) -> str:
    return _box(env, label="Address\nBcc: x@example.com")


def _amount_too_large(env: Env) -> None:
    env.service(
        lambda: services.contract_create(actor=env.sender, title="x", uploads=[], amount=10**16)
    )


def _deadline_years_away(env: Env) -> None:
    from datetime import timedelta

    from django.utils import timezone

    contract = draft_contract(env.sender)
    deadline = timezone.now() + timedelta(days=3650)
    env.service(
        lambda: services.contract_send(contract=contract, actor=env.sender, deadline=deadline)
    )


def _box_at_nan(env: Env) -> str:
    return _box(env, x=float("nan"))


def _box_max_length_too_large(env: Env) -> str:
    return _box(env, max_length=10**9)


def _idle_timeout_of_a_year(env: Env) -> None:
    from keiyaku.login.services import PolicyValues, organisation_signin_update

    values = PolicyValues(
        totp_required=False,
        session_timeout_minutes=525_600,
        oidc_enabled=False,
        oidc_issuer="",
        oidc_client_id="",
        oidc_match="email",
        oidc_create_users=False,
    )
    env.service(
        lambda: organisation_signin_update(
            organisation=env.admin.organisation, actor=env.admin, values=values, meta=SYSTEM
        )
    )


def _forward_once_too_often(env: Env) -> None:
    from django.test import override_settings

    party = draft_contract(env.sender, externals=[FIRM]).parties.get()
    with override_settings(KEIYAKU_MAX_FORWARDS=0):
        env.service(
            lambda: services.party_forward(
                party=party, name="John Roe", email="john@example.com", meta=SYSTEM
            )
        )


TRIGGERS = [
    Trigger("upload_not_a_pdf", _upload_not_a_pdf),
    Trigger("upload_encrypted_pdf", _upload_encrypted_pdf),
    Trigger("create_without_title", _create_without_title),
    Trigger("send_without_signers", _send_without_signers),
    Trigger("cancel_without_reason", _cancel_without_reason),
    Trigger("viewer_changes_a_contract", _viewer_changes_a_contract),
    Trigger("reject_without_reason", _reject_without_reason),
    Trigger("forward_a_staff_request", _forward_a_staff_request),
    Trigger("fill_a_box_of_another_party", _fill_a_box_of_another_party),
    Trigger("box_off_the_document", _box_off_the_document),
    Trigger("template_without_name", _template_without_name),
    Trigger("share_twice", _share_twice),
    Trigger("application_without_company", _application_without_company),
    Trigger("company_twice", _company_twice),
    Trigger("contact_twice", _contact_twice),
    Trigger("csv_not_text", _csv_not_text),
    Trigger("staff_login_id_taken", _staff_login_id_taken),
    Trigger("department_twice", _department_twice),
    Trigger("bad_ip_allowlist", _bad_ip_allowlist),
    Trigger("staff_csv_with_errors", _staff_csv_with_errors),
    Trigger("wrong_password", _wrong_password),
    Trigger("wrong_enrolment_code", _wrong_enrolment_code),
    Trigger("recovery_codes_without_totp", _recovery_codes_without_totp),
    Trigger("identity_provider_unreachable", _identity_provider_unreachable),
    Trigger("title_on_two_lines", _title_on_two_lines),
    Trigger("forward_note_with_a_control_character", _forward_note_with_a_control_character),
    Trigger("box_label_on_two_lines", _box_label_on_two_lines),
    Trigger("amount_too_large", _amount_too_large),
    Trigger("deadline_years_away", _deadline_years_away),
    Trigger("box_at_nan", _box_at_nan),
    Trigger("box_max_length_too_large", _box_max_length_too_large),
    Trigger("idle_timeout_of_a_year", _idle_timeout_of_a_year),
    Trigger("forward_once_too_often", _forward_once_too_often),
]


def _cases() -> list[object]:
    return list(_each_case())


def _each_case() -> Iterator[object]:
    for trigger in TRIGGERS:
        for language in ("ja", "en"):
            yield pytest.param(trigger, language, id=f"{trigger.name}-{language}")


@pytest.mark.parametrize(("trigger", "language"), _cases())
def test_a_refusal_is_made_and_shown_in_the_ui_language(
    trigger: Trigger, language: str, personas, refusals_seen: list[SeenRefusal]
):
    shown = trigger.run(Env(personas, language))

    assert refusals_seen, "the trigger made no refusal"
    for refusal in refusals_seen:
        assert refusal.language == language, refusal
        if language == "en":
            assert not JAPANESE.search(refusal.message), refusal
        else:
            assert JAPANESE.search(refusal.message), refusal
    if shown is not None:
        # The last refusal is the one the view showed (an upload's refusal is passed on).
        assert refusals_seen[-1].message in shown
        if "<html" in shown:
            assert f'<html lang="{language}">' in shown


# --- no Japanese literal in a refusal ------------------------------------------------------

REFUSAL_SUFFIXES = ("Error", "Refused", "Refusal", "NotAllowed", "RefusedUpload")
GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "npgettext"}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _japanese(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and JAPANESE.search(n.value)
        for n in ast.walk(node)
    )


def _is_gettext(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) in GETTEXT


def _untranslated(message: ast.expr, constants: dict[str, ast.expr]) -> bool:
    """A Japanese literal, an f-string, a `%` or `+` of one, or a module constant holding one
    (`ALREADY_HANDLED = "…"`); a gettext call of an f-string (never extracted) too."""
    if _is_gettext(message):
        assert isinstance(message, ast.Call)
        return any(isinstance(arg, ast.JoinedStr) for arg in message.args)
    if isinstance(message, ast.BinOp):
        return _untranslated(message.left, constants) or (
            not _is_gettext(message.left) and _japanese(message.right)
        )
    if isinstance(message, ast.Constant | ast.JoinedStr):
        return _japanese(message)
    if isinstance(message, ast.Name | ast.Subscript):
        root = message.value if isinstance(message, ast.Subscript) else message
        constant = constants.get(_name(root))
        return constant is not None and _japanese(constant) and not _translated_values(constant)
    return False


def _translated_values(node: ast.expr) -> bool:
    """A module constant whose strings are all inside gettext calls (a dict of lazy messages)."""
    if _is_gettext(node):
        return True
    if isinstance(node, ast.Dict):
        return all(value is not None and _is_gettext(value) for value in node.values)
    return False


def untranslated_refusals(path: Path) -> list[str]:
    """`line: source` of each refusal in `path` made with a message that skips gettext."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _name(node.func).endswith(REFUSAL_SUFFIXES)):
            continue
        message = (
            node.args[0]
            if node.args
            else next((kw.value for kw in node.keywords if kw.arg == "message"), None)
        )
        if message is not None and _untranslated(message, constants):
            found.append(f"{node.lineno}: {ast.get_source_segment(source, node)}")
    return found


def _relative(path: Path) -> str:
    return str(path.relative_to(KEIYAKU.parent))


def test_refusals_go_through_gettext():
    """Every refusal (and every other `…Error` made with a Japanese message) is translated."""
    found = {
        _relative(path): lines
        for path in sorted(KEIYAKU.rglob("*.py"))
        if (lines := untranslated_refusals(path))
    }
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_the_static_check_finds_an_untranslated_refusal(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'HANDLED = "処理済みです。"\n'
        'LAZY = {"a": _("済み")}\n'
        "def f(name):\n"
        '    raise ContractError("日本語", code="a")\n'
        '    raise ContractError(f"{name}は不正です。", code="b")\n'
        '    raise ContractError("%sは不正です。" % name, code="c")\n'
        '    raise ContractError(HANDLED, code="d")\n'
        '    raise ContractError(_(f"{name}は不正です。"), code="e")\n'
        '    raise ContractError(_("%(n)sは不正です。") % {"n": name}, code="ok")\n'
        '    raise RefusedUpload(LAZY["a"], code="ok")\n'
        "    raise SignInRefused(message, code='ok')\n",
        encoding="utf-8",
    )
    assert [line.split(":")[0] for line in untranslated_refusals(sample)] == [
        "4",
        "5",
        "6",
        "7",
        "8",
    ]
