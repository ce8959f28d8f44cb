"""Forms parse and validate input; services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.accounts.models import Department, Staff
from keiyaku.contracts.models import PartyKind, PartyRole
from keiyaku.text_input import TextInputForm


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "application/pdf,.pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class DateInput(forms.DateInput):
    input_type = "date"


class ContractForm(TextInputForm):
    title = forms.CharField(label=_("案件名"), max_length=300)
    management_number = forms.CharField(label=_("管理番号"), max_length=100, required=False)
    counterparty_company = forms.CharField(
        label=_("相手方（会社名）"), max_length=200, required=False
    )
    amount = forms.IntegerField(label=_("取引金額（円）"), min_value=0, required=False)
    contract_date = forms.DateField(label=_("契約日"), required=False, widget=DateInput)
    period_start = forms.DateField(label=_("契約期間（開始）"), required=False, widget=DateInput)
    period_end = forms.DateField(label=_("契約期間（終了）"), required=False, widget=DateInput)
    auto_renew = forms.BooleanField(label=_("自動更新あり"), required=False)
    allow_forwarding = forms.BooleanField(
        label=_("署名者による転送を許可する"), required=False, initial=True
    )
    note = forms.CharField(
        label=_("備考"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # A declared field, not the form's own `files` attribute (fields live in `base_fields`).
    files = MultipleFileField(label=_("契約書（PDF、最大5ファイル）"))  # type: ignore[assignment]


class SendForm(TextInputForm):
    deadline = forms.DateField(label=_("署名期限"), required=False, widget=DateInput)
    # The digest of the confirmation shown (`send_summary`); a send without it is refused.
    summary = forms.CharField(required=False, max_length=64)


class DeadlineForm(TextInputForm):
    deadline = forms.DateField(label=_("新しい署名期限"), widget=DateInput)


class CancelForm(TextInputForm):
    reason = forms.CharField(
        label=_("取消の理由"),
        max_length=2000,
        widget=forms.Textarea,
        error_messages={"required": _("取消の理由を入力してください。")},
    )


class PartyEmailForm(TextInputForm):
    email = forms.EmailField(
        label=_("メールアドレス"),
        error_messages={
            "required": _("正しいメールアドレスを入力してください。"),
            "invalid": _("正しいメールアドレスを入力してください。"),
        },
    )


class UnlockForm(TextInputForm):
    access_code = forms.CharField(label=_("新しいアクセスコード"), max_length=32, required=False)


class DocumentForm(forms.Form):
    file = forms.FileField(label=_("PDFを追加"))


class PartyForm(TextInputForm):
    kind = forms.ChoiceField(label=_("種別"), choices=PartyKind.choices)
    company = forms.CharField(label=_("会社名"), max_length=200, required=False)
    name = forms.CharField(label=_("氏名"), max_length=200, required=False)
    email = forms.EmailField(label=_("メールアドレス"), required=False)
    access_code = forms.CharField(label=_("アクセスコード"), max_length=32, required=False)
    staff = forms.ModelChoiceField(label=_("職員"), queryset=Staff.objects.none(), required=False)
    role = forms.ChoiceField(label=_("役割"), choices=PartyRole.choices, initial=PartyRole.SIGNER)
    parallel = forms.BooleanField(label=_("前の署名者と同時に依頼する（並列）"), required=False)

    def __init__(self, *args, organisation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = Staff.objects.filter(
            organisation=organisation, is_active=True
        ).order_by("display_name")
        self.fields["staff"].label_from_instance = lambda s: f"{s.label}（{s.department or ''}）"


class AccessCodeForm(forms.Form):
    code = forms.CharField(label=_("アクセスコード"), max_length=64)


class RejectForm(TextInputForm):
    reason = forms.CharField(
        label=_("却下の理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )


class ForwardForm(TextInputForm):
    company = forms.CharField(label=_("会社名"), max_length=200, required=False)
    name = forms.CharField(label=_("氏名"), max_length=200)
    email = forms.EmailField(label=_("メールアドレス"))
    note = forms.CharField(
        label=_("メッセージ"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class VerifyForm(forms.Form):
    file = forms.FileField(label=_("確認するPDF"))


class ShareForm(forms.Form):
    """Share a contract with one staff member or one department (R29)."""

    staff = forms.ModelChoiceField(
        label=_("職員と共有"), queryset=Staff.objects.none(), required=False
    )
    department = forms.ModelChoiceField(
        label=_("所属と共有"), queryset=Department.objects.none(), required=False
    )

    def __init__(self, *args, organisation=None, **kwargs):
        kwargs.setdefault("auto_id", "id_share_%s")  # the party form has its own id_staff
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = Staff.objects.filter(
            organisation=organisation, is_active=True
        ).order_by("display_name")
        self.fields["staff"].label_from_instance = lambda s: f"{s.label}（{s.department or ''}）"
        self.fields["department"].queryset = Department.objects.filter(
            organisation=organisation
        ).order_by("name")

    def clean(self):
        data = super().clean()
        if bool(data.get("staff")) == bool(data.get("department")):
            raise forms.ValidationError(_("共有先の職員または所属をひとつ選んでください。"))
        return data
