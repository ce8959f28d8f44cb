"""Text people type into keiyaku: one line where one line is meant, and no control characters.

Names, companies and titles end up in e-mail subjects and bodies, PDFs, CSV files and the audit
log. A line break in a forwarder's name let them write a paragraph of their own (a fake 「重要」
notice with a link) into the next signer's mail; a CR in a title made the Subject header
invalid, so every mail about that contract failed. So:

- a single-line input (a name, a company, a title, an address, a label) refuses every control
  character, tab included, the Unicode line and paragraph separators (U+2028, U+2029), and the
  invisible format characters (zero-width space, bidi overrides), which make one name look like
  another;
- a multi-line input (a note, a reason) allows line breaks and tabs, and refuses the rest.

Services call `require_single_line` / `require_text`, so every caller (a view, the API, a job)
is checked; forms derive from `TextInputForm`, so the user sees the error on the field.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from django import forms
from django.utils.translation import gettext as _

from keiyaku.refusals import Refusal

# Control (Cc), format (Cf), line and paragraph separators (Zl, Zp), lone surrogates (Cs: only
# a JSON body can carry one).
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# What a multi-line input may hold besides printable text.
MULTI_LINE_ALLOWED = frozenset("\t\r\n")


class TextRefusal(Refusal):
    """Text holds a character its input does not allow (see the module docstring)."""

    default_code = "control_character"


def forbidden_characters(value: str, *, multi_line: bool = False) -> list[str]:
    """The characters of `value` its input refuses, once each in order, as U+XXXX."""
    found: dict[str, None] = {}
    for char in value:
        if multi_line and char in MULTI_LINE_ALLOWED:
            continue
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            found[f"U+{ord(char):04X}"] = None
    return list(found)


def _refuse(message: str, label: str, chars: list[str], field: str) -> TextRefusal:
    # `label` is the field's label as the forms show it in Japanese (「会社名」), a msgid of the
    # catalogue already, so it is translated here.
    return TextRefusal(message % {"label": _(label), "chars": ", ".join(chars)}, field=field)


def require_single_line(**fields: tuple[str, str]) -> None:
    """Refuse a control character or line break in any of `fields`.

    Each keyword is the input's field name, with its label and the value typed:
    `require_single_line(name=("氏名", name))`. The refusal (`TextRefusal`) names the label and
    the characters, and carries the field name.
    """
    for field, (label, value) in fields.items():
        chars = forbidden_characters(value)
        if chars:
            raise _refuse(
                _("%(label)sには改行・タブなどの制御文字を入力できません（%(chars)s）。"),
                label,
                chars,
                field,
            )


def require_text(**fields: tuple[str, str]) -> None:
    """As `require_single_line` for multi-line inputs: line breaks and tabs are allowed."""
    for field, (label, value) in fields.items():
        chars = forbidden_characters(value, multi_line=True)
        if chars:
            raise _refuse(
                _("%(label)sには制御文字を入力できません（%(chars)s）。"), label, chars, field
            )


def one_line(value: str) -> str:
    """`value` with each character a single-line input refuses turned into a space (runs of
    them into one), trimmed: for text keiyaku takes from another system, an identity
    provider's name claim, where nobody can be asked to correct it."""
    kept: list[str] = []
    for char in value:
        if not forbidden_characters(char):
            kept.append(char)
        elif kept and kept[-1] != " ":
            kept.append(" ")
    return "".join(kept).strip()


# --- forms -----------------------------------------------------------------------------------


def single_line(value: str) -> None:
    """The form validator of a single-line input (see `require_single_line`)."""
    chars = forbidden_characters(value)
    if chars:
        raise forms.ValidationError(
            _("改行・タブなどの制御文字は入力できません（%(chars)s）。")
            % {"chars": ", ".join(chars)},
            code="control_character",
        )


def multi_line(value: str) -> None:
    """The form validator of a multi-line input (see `require_text`)."""
    chars = forbidden_characters(value, multi_line=True)
    if chars:
        raise forms.ValidationError(
            _("制御文字は入力できません（%(chars)s）。") % {"chars": ", ".join(chars)},
            code="control_character",
        )


def text_validator(field: forms.Field) -> Callable[[str], None] | None:
    """The validator a form field gets: `multi_line` for a text area, `single_line` for any
    other text input, none for hidden inputs (data keiyaku put in the page and checks again)
    and passwords (never shown, mailed or stored as typed)."""
    if not isinstance(field, forms.CharField):
        return None
    if isinstance(field.widget, forms.HiddenInput | forms.PasswordInput):
        return None
    return multi_line if isinstance(field.widget, forms.Textarea) else single_line


class TextInputForm(forms.Form):
    """A form whose text fields refuse what the services refuse, with the error on the field.

    The validators are added when the form is cleaned, so fields a form adds in `__init__`
    are covered too.
    """

    def full_clean(self) -> None:
        for field in self.fields.values():
            validator = text_validator(field)
            if validator is not None and validator not in field.validators:
                field.validators.append(validator)
        super().full_clean()
