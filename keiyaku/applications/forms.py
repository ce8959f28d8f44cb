"""Forms of the online application: the sender's request and the company's answers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.applications.services import MAX_STAFF_CONTACTS, Answers, Contact
from keiyaku.text_input import TextInputForm


class SendForm(TextInputForm):
    company = forms.CharField(label=_("会社名"), max_length=200)
    email = forms.EmailField(label=_("メールアドレス"))


def _ascii_printable(value: str) -> None:
    if not value.isascii() or not value.isprintable() or " " in value:
        raise forms.ValidationError(
            _("アクセスコードは半角英数字・記号（空白なし）で入力してください。")
        )


class ApplicationForm(TextInputForm):
    company = forms.CharField(label=_("商号又は名称"), max_length=200)
    title = forms.CharField(label=_("役職"), max_length=100, required=False)
    name = forms.CharField(label=_("氏名"), max_length=200)
    email = forms.EmailField(label=_("メールアドレス"))
    access_code = forms.CharField(
        label=_("アクセスコード"),
        min_length=4,
        max_length=32,
        validators=[_ascii_printable],
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("半角4〜32文字。署名のときに入力します。メールでは送られません。"),
    )
    access_code_again = forms.CharField(
        label=_("アクセスコード（確認）"),
        max_length=32,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    consent = forms.BooleanField(
        label=_("上記の方法により電子契約を締結することを承諾します。"),
        error_messages={"required": _("電子契約の利用への承諾が必要です。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for number in range(1, MAX_STAFF_CONTACTS + 1):
            self.fields[f"staff{number}_name"] = forms.CharField(
                label=_("契約担当者%(number)d 氏名") % {"number": number},
                max_length=200,
                required=False,
            )
            self.fields[f"staff{number}_email"] = forms.EmailField(
                label=_("契約担当者%(number)d メールアドレス") % {"number": number},
                required=False,
            )

    def signer_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("company", "title", "name", "email")]

    def staff_rows(self) -> list[tuple[int, forms.BoundField, forms.BoundField]]:
        return [
            (n, self[f"staff{n}_name"], self[f"staff{n}_email"])
            for n in range(1, MAX_STAFF_CONTACTS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("access_code"), data.get("access_code_again")
        if first and second is not None and first != second:
            self.add_error("access_code_again", _("アクセスコードが一致しません。"))
        for number in range(1, MAX_STAFF_CONTACTS + 1):
            name = data.get(f"staff{number}_name", "")
            email = data.get(f"staff{number}_email", "")
            if name and not email and f"staff{number}_email" not in self.errors:
                self.add_error(f"staff{number}_email", _("メールアドレスを入力してください。"))
            if email and not name:
                self.add_error(f"staff{number}_name", _("氏名を入力してください。"))
        return data

    def answers(self) -> Answers:
        data = self.cleaned_data
        return Answers(
            company=data["company"],
            title=data["title"],
            name=data["name"],
            email=data["email"],
            access_code=data["access_code"],
            staff_contacts=[
                Contact(name=data[f"staff{n}_name"], email=data[f"staff{n}_email"])
                for n in range(1, MAX_STAFF_CONTACTS + 1)
                if data.get(f"staff{n}_name") or data.get(f"staff{n}_email")
            ],
        )
