"""keiyaku.text_input: what a single-line and a multi-line input refuse, and that every form
with a text input of keiyaku refuses it on the field."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django import forms
from django.utils import translation

import keiyaku
from keiyaku.text_input import (
    TextInputForm,
    TextRefusal,
    forbidden_characters,
    one_line,
    require_single_line,
    require_text,
    text_validator,
)

SINGLE_LINE_REFUSED = [
    "\r",
    "\n",
    "\t",
    "\x00",
    "\x1b",
    "\x7f",
    "\x85",  # NEL
    "\u2028",  # line separator
    "\u2029",  # paragraph separator
    "\u200b",  # zero-width space
    "\u202e",  # right-to-left override
    "\ufeff",
    "\ud800",  # a lone surrogate: only JSON can carry one
]


@pytest.mark.parametrize("char", SINGLE_LINE_REFUSED)
def test_a_single_line_input_refuses_control_and_format_characters(char: str):
    assert forbidden_characters(f"株式会社{char}髙橋") == [f"U+{ord(char):04X}"]
    with pytest.raises(TextRefusal) as refused:
        require_single_line(company=("会社名", f"株式会社{char}髙橋"))
    assert refused.value.code == "control_character" and refused.value.field == "company"
    assert refused.value.message.startswith("会社名には改行・タブなどの制御文字を入力できません")


def test_a_multi_line_input_keeps_line_breaks_and_tabs_only():
    require_text(note=("備考", "一行目\r\n二行目\n\t字下げ"))
    for char in set(SINGLE_LINE_REFUSED) - {"\r", "\n", "\t"}:
        with pytest.raises(TextRefusal):
            require_text(note=("備考", f"一行目{char}"))


def test_ordinary_japanese_text_passes():
    require_single_line(name=("氏名", "髙橋 ①子（ﾀｶﾊｼ）　代表取締役 ㈱ 〒060-8611 🏗"))


def test_the_refusal_names_the_field_in_the_ui_language():
    with translation.override("en"), pytest.raises(TextRefusal) as refused:
        require_single_line(name=("氏名", "a\nb"))
    assert refused.value.message == (
        "Name cannot contain line breaks, tabs or other control characters (U+000A)."
    )


def test_a_form_shows_the_error_on_the_field():
    class Sample(TextInputForm):
        name = forms.CharField()
        note = forms.CharField(widget=forms.Textarea, required=False)

    form = Sample({"name": "髙橋\u2028一郎", "note": "一行目\r\n二行目"})
    assert not form.is_valid()
    assert list(form.errors) == ["name"]
    assert "改行・タブなどの制御文字は入力できません（U+2028）" in form.errors["name"][0]


# --- every form of keiyaku -------------------------------------------------------------------

# Forms whose text is compared, never stored, shown or mailed; they stay plain.
PLAIN = {
    "keiyaku.login.forms.LoginForm": "the login ID and password are only compared",
    "keiyaku.login.forms.CodeForm": "a one-time code, only compared",
    "keiyaku.login.forms.PasswordResetForm": "Django's form: the address is only looked up",
    "keiyaku.web.forms.AccessCodeForm": "the access code is only compared with its hash",
}


def _keiyaku_forms() -> list[type[forms.BaseForm]]:
    for module in pkgutil.walk_packages(keiyaku.__path__, "keiyaku."):
        leaf = module.name.rsplit(".", 1)[-1]
        if leaf == "forms" or ".views" in module.name or leaf == "views":
            importlib.import_module(module.name)
    found: list[type[forms.BaseForm]] = []
    pending: list[type] = [forms.BaseForm]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("keiyaku.") and sub is not TextInputForm:
                found.append(sub)
    return found


def test_every_form_with_a_text_input_checks_it():
    forms_with_text = {
        f"{form.__module__}.{form.__qualname__}": form
        for form in _keiyaku_forms()
        if any(text_validator(field) for field in form.base_fields.values())
    }
    assert "keiyaku.web.forms.ForwardForm" in forms_with_text  # the walk finds the forms
    unchecked = sorted(
        name
        for name, form in forms_with_text.items()
        if not issubclass(form, TextInputForm) and name not in PLAIN
    )
    assert not unchecked, f"derive these from keiyaku.text_input.TextInputForm: {unchecked}"


def test_one_line_turns_what_a_single_line_refuses_into_spaces():
    assert one_line("  髙橋\r\n\u2028一郎\t(\u200b)  ") == "髙橋 一郎 ( )"
    assert one_line("山田 太郎") == "山田 太郎"


def test_a_name_from_the_identity_provider_is_kept_on_one_line(personas):
    from keiyaku.audit.services import SYSTEM
    from keiyaku.login.models import OrganisationSignIn
    from keiyaku.login.services import oidc_staff_for

    policy = OrganisationSignIn.objects.create(
        organisation=personas.org,
        oidc_enabled=True,
        oidc_issuer="https://idp.city.example.jp",
        oidc_client_id="keiyaku",
        oidc_match="email",
        oidc_create_users=True,
    )
    staff = oidc_staff_for(
        organisation=personas.org,
        policy=policy,
        claims={
            "sub": "1",
            "email": "newcomer@city.example.jp",
            "preferred_username": "new\r\ncomer",
            "name": "新人\n\n【重要】太郎",
        },
        meta=SYSTEM,
    )
    assert staff.display_name == "新人 【重要】太郎"
    assert not forbidden_characters(staff.username)
    with pytest.raises(TextRefusal):
        oidc_staff_for(
            organisation=personas.org,
            policy=policy,
            claims={"sub": "2", "email": "other@city.example.jp\r\nBcc: x@example.jp"},
            meta=SYSTEM,
        )
