from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.text_input import TextInputForm


class EmailForm(TextInputForm):
    email = forms.EmailField(
        label=_("メールアドレス"),
        max_length=254,
        error_messages={"invalid": _("メールアドレスの形式が正しくありません。")},
    )
