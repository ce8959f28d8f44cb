"""Forms parse and validate input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.accounts.models import Department, Staff
from keiyaku.addressbook import csvfile
from keiyaku.addressbook.models import Contact
from keiyaku.addressbook.selectors import contacts_visible_to
from keiyaku.text_input import TextInputForm

SHARED = "shared"
DEPARTMENT = "department"
MAX_CSV_BYTES = 2 * 1024 * 1024


class VisibilityField(forms.ChoiceField):
    """Who sees an entry: the whole organisation, or only the staff member's department."""

    def __init__(self, *, staff: Staff, **kwargs) -> None:
        choices: list[tuple[str, Any]] = [(SHARED, _("組織全体で共有"))]
        if staff.department_id is not None:
            choices.append(
                (
                    DEPARTMENT,
                    _("所属（%(department)s）のみ") % {"department": staff.department},
                )
            )
        super().__init__(label=_("公開範囲"), choices=choices, initial=SHARED, **kwargs)


def chosen_department(staff: Staff, visibility: str) -> Department | None:
    return staff.department if visibility == DEPARTMENT else None


class CompanyForm(TextInputForm):
    name = forms.CharField(label=_("会社名"), max_length=200)
    kana = forms.CharField(label=_("会社名カナ"), max_length=200, required=False)
    note = forms.CharField(
        label=_("備考"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, staff: Staff | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The scope is chosen once, when the company is created.
        if staff is not None:
            self.fields["visibility"] = VisibilityField(staff=staff)


class ContactForm(TextInputForm):
    name = forms.CharField(label=_("氏名"), max_length=200)
    email = forms.EmailField(label=_("メールアドレス"), max_length=254)
    phone = forms.CharField(label=_("電話番号"), max_length=50, required=False)
    title = forms.CharField(label=_("部署・役職"), max_length=200, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSVファイル"))

    def __init__(self, *args, staff: Staff, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visibility"] = VisibilityField(staff=staff)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(
                _("CSVファイルは%(mb)dMBまでです。") % {"mb": MAX_CSV_BYTES // (1024 * 1024)}
            )
        return upload


class ImportApplyForm(TextInputForm):
    """The checked file's text comes back with the confirmation; the service checks it again."""

    text = forms.CharField(widget=forms.HiddenInput, strip=False)

    def __init__(self, *args, staff: Staff, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visibility"] = VisibilityField(staff=staff, widget=forms.HiddenInput)


class ExportForm(forms.Form):
    encoding = forms.ChoiceField(
        label=_("文字コード"),
        choices=[(csvfile.UTF8, _("UTF-8（BOM付き）")), (csvfile.SHIFT_JIS, _("Shift_JIS"))],
        initial=csvfile.UTF8,
        required=False,
    )


class PickContactForm(TextInputForm):
    contact = forms.ModelChoiceField(
        label=_("連絡先"), queryset=Contact.objects.none(), empty_label=_("選択してください")
    )
    access_code = forms.CharField(label=_("アクセスコード"), max_length=32)
    parallel = forms.BooleanField(label=_("前の署名者と同時に依頼する（並列）"), required=False)

    def __init__(self, *args, staff: Staff, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["contact"]
        field.queryset = contacts_visible_to(staff)  # type: ignore[attr-defined]
        field.label_from_instance = (  # type: ignore[attr-defined]
            lambda c: f"{c.company.name} {c.name} <{c.email}>"
        )
