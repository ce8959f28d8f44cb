"""Forms of the organisation administration screens; services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.accounts.models import (
    ACCESS_CODE_MAX_LENGTH,
    ACCESS_CODE_MIN_LENGTH,
    Department,
    Organisation,
    Role,
    Staff,
)
from keiyaku.accounts.selectors import department_tree, department_with_descendants
from keiyaku.audit.labels import EVENT_LABELS
from keiyaku.text_input import TextInputForm


class DateInput(forms.DateInput):
    input_type = "date"


def _department_choices(organisation: Organisation, exclude: set[int] | None = None) -> list:
    return [("", "—")] + [
        (d.pk, "　" * depth + d.name)
        for d, depth in department_tree(organisation)
        if d.pk not in (exclude or set())
    ]


class _DepartmentField(forms.TypedChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(coerce=int, empty_value=None, **kwargs)


class StaffForm(TextInputForm):
    display_name = forms.CharField(label=_("氏名"), max_length=200)
    kana = forms.CharField(label=_("ふりがな"), max_length=200, required=False)
    username = forms.RegexField(
        label=_("ログインID"),
        max_length=150,
        regex=r"^[\w.@+-]+\Z",
        error_messages={"invalid": _("英数字と . @ + - _ のみ使えます。")},
    )
    email = forms.EmailField(label=_("メールアドレス"))
    department = _DepartmentField(label=_("所属"), required=False)
    roles = forms.MultipleChoiceField(
        label=_("役割"), choices=Role.choices, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label=_("有効（ログインできる）"), required=False, initial=True)

    def __init__(self, *args, organisation: Organisation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.fields["department"].choices = _department_choices(organisation)  # type: ignore[attr-defined]

    def clean_department(self) -> Department | None:
        value = self.cleaned_data["department"]
        if value is None:
            return None
        department = Department.objects.filter(organisation=self.organisation, pk=value).first()
        if department is None:
            raise forms.ValidationError(_("所属が見つかりません。"))
        return department


class DepartmentForm(TextInputForm):
    name = forms.CharField(label=_("所属名"), max_length=200)
    parent = _DepartmentField(label=_("上位の所属"), required=False)

    def __init__(
        self, *args, organisation: Organisation, department: Department | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        exclude = department_with_descendants(department.pk) if department else set()
        self.fields["parent"].choices = _department_choices(organisation, exclude)  # type: ignore[attr-defined]

    def clean_parent(self) -> Department | None:
        value = self.cleaned_data["parent"]
        if value is None:
            return None
        parent = Department.objects.filter(organisation=self.organisation, pk=value).first()
        if parent is None:
            raise forms.ValidationError(_("上位の所属が見つかりません。"))
        return parent


class StaffImportForm(forms.Form):
    file = forms.FileField(label=_("CSVファイル"))
    update = forms.BooleanField(
        label=_("既存の職員を更新する（ログインIDが一致する職員）"), required=False
    )


class StaffImportApplyForm(TextInputForm):
    """The checked file, sent back with the confirmation (UTF-8 text) and checked again."""

    payload = forms.CharField(widget=forms.HiddenInput)
    update = forms.BooleanField(required=False, widget=forms.HiddenInput)


class OrganisationSettingsForm(TextInputForm):
    include_subdepartments = forms.BooleanField(
        label=_("職員は下位の所属の案件も閲覧できる"), required=False
    )
    ip_allowlist = forms.CharField(
        label=_("接続を許可するIPアドレス・CIDR範囲（1行に1つ、空欄なら制限なし）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
    )
    confirm_lockout = forms.BooleanField(
        label=_("現在の接続元が含まれていなくても保存する"), required=False
    )
    access_code_min_length = forms.IntegerField(
        label=_("事業者のアクセスコードの最小文字数"),
        min_value=ACCESS_CODE_MIN_LENGTH,
        max_value=ACCESS_CODE_MAX_LENGTH,
        required=False,  # empty keeps the current value
    )
    keep_pdf_links = forms.BooleanField(
        label=_("アップロードしたPDFのリンク（Webページやファイル内の移動）を残す"),
        required=False,
    )
    deadline_wareki = forms.BooleanField(
        label=_("事業者へのメールと画面で、署名期限を和暦（令和）でも表示する"), required=False
    )
    renewal_alert_days = forms.CharField(
        label=_("更新・終了のお知らせを送る日（何日前か、カンマ区切り。空欄なら送らない）"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "60,30,7"}),
    )


class OrganisationCreateForm(TextInputForm):
    name = forms.CharField(label=_("団体名"), max_length=200)
    slug = forms.SlugField(label=_("識別名（英数字）"), max_length=50)
    admin_username = forms.RegexField(
        label=_("最初の管理者のログインID"), max_length=150, regex=r"^[\w.@+-]+\Z"
    )
    admin_name = forms.CharField(label=_("最初の管理者の氏名"), max_length=200)
    admin_email = forms.EmailField(label=_("最初の管理者のメールアドレス"))
    is_trial = forms.BooleanField(
        label=_("練習用組織（メールを送信せず、メールボックスに保管する）"), required=False
    )


class AuditFilterForm(TextInputForm):
    date_from = forms.DateField(label=_("開始日"), required=False, widget=DateInput)
    date_to = forms.DateField(label=_("終了日"), required=False, widget=DateInput)
    actor = forms.TypedChoiceField(label=_("操作者"), required=False, coerce=int, empty_value=None)
    event = forms.ChoiceField(label=_("操作"), required=False)
    contract = forms.CharField(label=_("案件（案件名・管理番号）"), max_length=200, required=False)

    def __init__(self, *args, organisation: Organisation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (s.pk, f"{s.label}（{s.username}）")
            for s in Staff.objects.filter(organisation=organisation).order_by("display_name")
        ]
        self.fields["event"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (key, label) for key, label in EVENT_LABELS.items()
        ]


class ContactForm(TextInputForm):
    """A contact block (issue 14); `keiyaku.accounts.services.contact_update` checks it again."""

    contact_department = forms.CharField(
        label=_("部署（例: 総務部 契約課 契約係）"), max_length=200, required=False
    )
    contact_person = forms.CharField(label=_("担当者"), max_length=200, required=False)
    contact_phone = forms.CharField(
        label=_("電話番号（半角数字とハイフン）"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    contact_email = forms.EmailField(label=_("メールアドレス"), required=False)
    contact_hours = forms.CharField(
        label=_("受付時間（例: 平日 8:45〜17:30）"), max_length=200, required=False
    )
