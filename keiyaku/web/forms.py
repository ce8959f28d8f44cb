"""Forms parse and validate input; services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.accounts.models import Department, Staff
from keiyaku.ascii_digits import yen_int
from keiyaku.contracts.custom_fields import CustomCondition, custom_fields_of, parse_custom_value
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.list_page import SORTS, Sort, sort_named
from keiyaku.contracts.models import CustomFieldKind, PartyKind, PartyRole, SuretyKind
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.services.drafting import MAX_AMOUNT
from keiyaku.contracts.states import ContractStatus
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


class AmountField(forms.Field):
    """Yen as staff type it: 「1,000,000」, 「１，０００，０００円」; 「500万」 is refused with a
    message saying how to write it. The value is an int (yen) or None."""

    widget = forms.TextInput(attrs={"inputmode": "numeric"})

    def __init__(self, *args: Any, max_value: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_value = max_value
        """Refused above this on the form, where no service decides (a search's range)."""

    def to_python(self, value: object) -> int | None:
        text = str(value).strip() if value is not None else ""
        if not text:
            return None
        amount = yen_int(text)
        if amount is None:
            raise forms.ValidationError(
                _("金額は数字で入力してください（例: 1,000,000）。"), code="invalid"
            )
        if self.max_value is not None and amount > self.max_value:
            raise forms.ValidationError(
                _("金額は%(max)s円以下で入力してください。") % {"max": f"{self.max_value:,}"},
                code="max_value",
            )
        return amount


class ContractMetadataForm(TextInputForm):
    """What a contract records about itself, on the create form and the import form alike."""

    title = forms.CharField(label=_("案件名"), max_length=300)
    management_number = forms.CharField(label=_("管理番号"), max_length=100, required=False)
    counterparty_company = forms.CharField(
        label=_("相手方（会社名）"), max_length=200, required=False
    )
    amount = AmountField(label=_("取引金額（円）"), required=False)
    contract_date = forms.DateField(label=_("契約日"), required=False, widget=DateInput)
    period_start = forms.DateField(label=_("契約期間（開始）"), required=False, widget=DateInput)
    period_end = forms.DateField(label=_("契約期間（終了）"), required=False, widget=DateInput)
    auto_renew = forms.BooleanField(label=_("自動更新あり"), required=False)
    notice_deadline = forms.DateField(
        label=_("更新拒絶の通知期限（自動更新ありの場合）"), required=False, widget=DateInput
    )

    def with_custom_fields(self, organisation_id: int | None) -> None:
        """Add the organisation's custom fields (`custom_field_inputs`) before the files."""
        fields = list(self.fields.items())
        at = next((i for i, (name, _field) in enumerate(fields) if name == "files"), len(fields))
        self.fields = dict(
            [*fields[:at], *custom_field_inputs(organisation_id).items(), *fields[at:]]
        )


class ContractForm(ContractMetadataForm):
    allow_forwarding = forms.BooleanField(
        label=_("署名者による転送を許可する"), required=False, initial=True
    )
    note = forms.CharField(
        label=_("備考"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # A declared field, not the form's own `files` attribute (fields live in `base_fields`).
    files = MultipleFileField(label=_("契約書（PDF、最大5ファイル）"))  # type: ignore[assignment]


class TermForm(TextInputForm):
    """A contract's period, automatic renewal and notice deadline (R31); `term_check` decides."""

    period_start = forms.DateField(label=_("契約期間（開始）"), required=False, widget=DateInput)
    period_end = forms.DateField(label=_("契約期間（終了）"), required=False, widget=DateInput)
    auto_renew = forms.BooleanField(label=_("自動更新あり"), required=False)
    notice_deadline = forms.DateField(
        label=_("更新拒絶の通知期限（自動更新ありの場合）"), required=False, widget=DateInput
    )


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


def _sort_direction(order: Sort) -> str:
    if order.kind in ("time", "date"):
        return str(_("新しい順") if order.descending else _("古い順"))
    if order.kind == "int":
        return str(_("大きい順") if order.descending else _("小さい順"))
    return str(_("降順") if order.descending else _("昇順"))


def custom_field_inputs(organisation_id: int | None) -> dict[str, forms.Field]:
    """A form field per active custom field of the organisation (``custom_<id>``), as text the
    service parses (`custom_fields.parse_custom_value`): the widget suits the kind."""
    inputs: dict[str, forms.Field] = {}
    for field in custom_fields_of(organisation_id):
        common: dict[str, Any] = {"label": field.label, "required": field.required}
        if field.kind == CustomFieldKind.CHOICE:
            inputs[f"custom_{field.pk}"] = forms.ChoiceField(
                choices=[("", "—"), *((c, c) for c in field.choices)], **common
            )
        elif field.kind == CustomFieldKind.DATE:
            inputs[f"custom_{field.pk}"] = forms.CharField(widget=DateInput, **common)
        elif field.kind == CustomFieldKind.NUMBER:
            inputs[f"custom_{field.pk}"] = forms.CharField(
                max_length=40, widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common
            )
        else:
            inputs[f"custom_{field.pk}"] = forms.CharField(max_length=500, **common)
    return inputs


def custom_values_given(form: forms.BaseForm) -> dict[int, str]:
    """The ``custom_<id>`` inputs of a valid form as field id → text, for the services."""
    return {
        int(name.removeprefix("custom_")): str(value or "")
        for name, value in form.cleaned_data.items()
        if name.startswith("custom_")
    }


class ContractSearchForm(TextInputForm):
    """The contract list's search (R28): every field optional, all of them combined (AND)."""

    q = forms.CharField(label=_("キーワード"), required=False, max_length=200)
    title = forms.CharField(label=_("案件名"), required=False, max_length=200)
    filename = forms.CharField(label=_("ファイル名"), required=False, max_length=200)
    counterparty = forms.CharField(label=_("相手方"), required=False, max_length=200)
    number = forms.CharField(label=_("管理番号"), required=False, max_length=100)
    department = forms.ModelChoiceField(
        label=_("部署"), queryset=Department.objects.none(), required=False
    )
    status = forms.MultipleChoiceField(
        label=_("状況"),
        choices=ContractStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    amount_min = AmountField(label=_("金額（円）から"), required=False, max_value=MAX_AMOUNT)
    amount_max = AmountField(label=_("金額（円）まで"), required=False, max_value=MAX_AMOUNT)
    contract_date_from = forms.DateField(label=_("契約日から"), required=False, widget=DateInput)
    contract_date_to = forms.DateField(label=_("契約日まで"), required=False, widget=DateInput)
    signed_from = forms.DateField(label=_("締結日から"), required=False, widget=DateInput)
    signed_to = forms.DateField(label=_("締結日まで"), required=False, widget=DateInput)
    period_end_from = forms.DateField(
        label=_("契約期間（終了）から"), required=False, widget=DateInput
    )
    period_end_to = forms.DateField(
        label=_("契約期間（終了）まで"), required=False, widget=DateInput
    )
    sort = forms.ChoiceField(label=_("並び順"), required=False, choices=())
    surety_number = forms.CharField(label=_("保証契約番号"), required=False, max_length=100)

    ADVANCED = (
        "title",
        "filename",
        "counterparty",
        "number",
        "department",
        "status",
        "amount_min",
        "amount_max",
        "contract_date_from",
        "contract_date_to",
        "signed_from",
        "signed_to",
        "period_end_from",
        "period_end_to",
        "surety_number",
    )

    def __init__(self, *args: object, organisation_id: int | None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # The organisation's custom fields: a word (text), a value (choice), a range.
        self.custom_fields = custom_fields_of(organisation_id)
        for field in self.custom_fields:
            name = f"cf_{field.pk}"
            if field.kind == CustomFieldKind.CHOICE:
                self.fields[name] = forms.ChoiceField(
                    label=field.label,
                    required=False,
                    choices=[("", "—"), *((c, c) for c in field.choices)],
                )
            elif field.kind == CustomFieldKind.TEXT:
                self.fields[name] = forms.CharField(
                    label=field.label, required=False, max_length=200
                )
            else:
                widget = DateInput if field.kind == CustomFieldKind.DATE else forms.TextInput
                for end, suffix in (("min", _("から")), ("max", _("まで"))):
                    self.fields[f"{name}_{end}"] = forms.CharField(
                        label=f"{field.label}{suffix}", required=False, max_length=40, widget=widget
                    )
        sort = self.fields["sort"]
        assert isinstance(sort, forms.ChoiceField)
        sort.choices = [
            (
                name,
                _("%(column)s（%(direction)s）")
                % {"column": order.label, "direction": _sort_direction(order)},
            )
            for name, order in SORTS.items()
        ]
        departments = self.fields["department"]
        assert isinstance(departments, forms.ModelChoiceField)
        departments.queryset = (
            Department.objects.filter(organisation_id=organisation_id)
            if organisation_id is not None
            else Department.objects.none()
        )

    @property
    def advanced_used(self) -> bool:
        """Whether a condition other than the keyword was given (the panel opens)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        names = [*self.ADVANCED, *(n for n in self.fields if n.startswith("cf_"))]
        return any(data.get(name) not in (None, "", [], ()) for name in names)

    def clean(self) -> dict[str, Any]:
        """The custom fields' range ends parsed as the fields' kind (numbers, dates)."""
        data = super().clean() or {}
        self.custom_conditions: list[CustomCondition] = []
        for field in self.custom_fields:
            name = f"cf_{field.pk}"
            if field.kind in (CustomFieldKind.TEXT, CustomFieldKind.CHOICE):
                if data.get(name):
                    self.custom_conditions.append(
                        CustomCondition(field.pk, field.kind, text=data[name])
                    )
                continue
            ends: dict[str, Any] = {}
            for end in ("min", "max"):
                try:
                    ends[end] = parse_custom_value(field, data.get(f"{name}_{end}") or "")
                except ContractError as exc:
                    self.add_error(f"{name}_{end}", exc.message)
            if ends.get("min") is not None or ends.get("max") is not None:
                self.custom_conditions.append(
                    CustomCondition(field.pk, field.kind, low=ends.get("min"), high=ends.get("max"))
                )
        return data

    def order(self) -> Sort:
        """The chosen order of the valid form (newest activity first when none is chosen)."""
        return sort_named(self.cleaned_data.get("sort") or None)

    def conditions(self) -> SearchConditions:
        """The valid form as `SearchConditions`. Raises `BadSearch` for an inverted range."""
        data = self.cleaned_data
        department = data.get("department")
        return SearchConditions(
            words=data.get("q") or "",
            title=data.get("title") or "",
            filename=data.get("filename") or "",
            counterparty=data.get("counterparty") or "",
            number=data.get("number") or "",
            department_id=department.pk if department is not None else None,
            statuses=tuple(data.get("status") or ()),
            amount_min=data.get("amount_min"),
            amount_max=data.get("amount_max"),
            contract_date_from=data.get("contract_date_from"),
            contract_date_to=data.get("contract_date_to"),
            signed_from=data.get("signed_from"),
            signed_to=data.get("signed_to"),
            period_end_from=data.get("period_end_from"),
            period_end_to=data.get("period_end_to"),
            custom=tuple(self.custom_conditions),
            surety_number=data.get("surety_number") or "",
        )


class CustomFieldForm(TextInputForm):
    """An organisation's custom field, as its admins define it (services.custom_fields)."""

    label = forms.CharField(label=_("項目名"), max_length=50)
    kind = forms.ChoiceField(label=_("種類"), choices=CustomFieldKind.choices)
    choices = forms.CharField(
        label=_("選択肢（1行に1つ）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("種類が「選択肢」のときだけ使います。"),
    )
    required = forms.BooleanField(label=_("必須にする"), required=False)


class ImportForm(ContractMetadataForm):
    """A contract concluded elsewhere (R30): a new contract's fields, its PDF(s) as they are."""

    note = forms.CharField(
        label=_("備考"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    department = forms.ModelChoiceField(
        label=_("所属"), queryset=Department.objects.none(), required=False
    )
    files = MultipleFileField(label=_("締結済みの契約書（PDF）"))  # type: ignore[assignment]

    def __init__(self, *args, organisation=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["department"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Department.objects.filter(organisation=organisation).order_by("name")
        field.empty_label = str(_("自分の所属"))


class BulkImportForm(forms.Form):
    """A bulk import (R30): the CSV of metadata and the ZIP of PDFs."""

    csv_file = forms.FileField(label=_("契約情報のCSV"))
    zip_file = forms.FileField(label=_("契約書PDFのZIP"))


class SuretyForm(TextInputForm):
    """An electronic surety (R32) as staff enter it from the issuer's 「認証キーのお知らせ」;
    `services.sureties.surety_add` decides."""

    kind = forms.ChoiceField(label=_("保証の種類"), choices=SuretyKind.choices)
    issuer = forms.CharField(
        label=_("保証事業会社"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("例: 東日本建設業保証株式会社")}),
    )
    number = forms.CharField(label=_("保証契約番号"), max_length=100)
    auth_key = forms.CharField(
        label=_("認証キー"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    amount = AmountField(label=_("保証金額（円）"), required=False)
    period_start = forms.DateField(label=_("保証期間（開始）"), required=False, widget=DateInput)
    period_end = forms.DateField(label=_("保証期間（終了）"), required=False, widget=DateInput)
    notice = forms.FileField(
        label=_("認証キーのお知らせ（PDF）"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_surety_%s")  # the term form on the page has its own
        super().__init__(*args, **kwargs)


class SuretyCorrectForm(SuretyForm):
    """A surety's correction (R32): its fields as they should be, the reason (kept in the
    訂正削除の履歴), and a notice PDF only to replace the current one;
    `services.corrections.surety_correct` decides (the reason's rules included)."""

    reason = forms.CharField(
        label=_("訂正の理由"),
        required=False,  # the service's message, in Japanese, on the field
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
    )
    corrections_seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_correct_%s")
        super().__init__(*args, **kwargs)
        self.fields["notice"].label = _("差し替える認証キーのお知らせ（PDF）")
        self.fields["notice"].help_text = _("差し替えるときだけ選びます。")


class RemovalForm(TextInputForm):
    """The reason for removing a surety or an attachment (R32), kept in the 訂正削除の履歴;
    `services.corrections` decides (required, length)."""

    reason = forms.CharField(
        label=_("削除の理由"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
    )


class AttachmentForm(forms.Form):
    """A PDF kept with a contract apart from its documents (R32)."""

    file = forms.FileField(
        label=_("添付するPDF"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
