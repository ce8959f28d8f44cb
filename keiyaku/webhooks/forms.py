"""The endpoint form of the webhooks screen: what is typed; the service checks the rest."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from keiyaku.text_input import TextInputForm
from keiyaku.webhooks.models import WebhookEvent
from keiyaku.webhooks.services import NAME_MAX, URL_MAX


class EndpointForm(TextInputForm):
    name = forms.CharField(label=_("名前"), max_length=NAME_MAX)
    url = forms.CharField(
        label=_("送信先URL"),
        max_length=URL_MAX,
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://"}),
    )
    events = forms.MultipleChoiceField(
        label=_("送信するイベント"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,  # none chosen: the service says so in its own words
    )
