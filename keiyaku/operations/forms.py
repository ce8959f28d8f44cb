"""The operator's maintenance notice form; the service decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.operations.services import TEXT_MAX
from keiyaku.text_input import TextInputForm


class DateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; the value is Japan time (TIME_ZONE)."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class MaintenanceNoticeForm(TextInputForm):
    starts_at = forms.DateTimeField(label=_("停止の開始（日本時間）"), widget=DateTimeInput())
    ends_at = forms.DateTimeField(label=_("停止の終了（日本時間）"), widget=DateTimeInput())
    text = forms.CharField(
        label=_("お知らせの本文"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "職員の画面と、署名を依頼された方の画面に、開始の1週間前から終了まで表示します。"
        ),
    )
