"""Sign-in forms: parse and check input only."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from keiyaku.login.models import SESSION_TIMEOUT_MAX, SESSION_TIMEOUT_MIN, OidcMatch
from keiyaku.notifications.mail_html import mail_html
from keiyaku.notifications.services import mail_connection
from keiyaku.text_input import TextInputForm

logger = logging.getLogger(__name__)


class LoginForm(forms.Form):
    username = forms.CharField(label=_("ログインID"), max_length=150)
    password = forms.CharField(label=_("パスワード"), max_length=4096, strip=False)


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's form; its mail goes through keiyaku's routing (captured for a trial organisation)."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        connection = mail_connection(organisation=context["user"].organisation)
        message = EmailMultiAlternatives(
            subject, body, from_email, [to_email], connection=connection
        )
        # The HTML part laid out from the text, as every keiyaku mail (issue 14).
        html = (
            render_to_string(html_email_template_name, context)
            if html_email_template_name is not None
            else mail_html(subject=subject, body=body)
        )
        message.attach_alternative(html, "text/html")
        try:
            message.send()
        except Exception:  # as Django: the page must not tell whether the address is known
            logger.exception("Failed to send password reset email to %s", context["user"].pk)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("確認コード"), max_length=20)


class SignInSettingsForm(TextInputForm):
    totp_required = forms.BooleanField(label=_("2段階認証（TOTP）を必須にする"), required=False)
    session_timeout_minutes = forms.IntegerField(
        label=_("無操作でログアウトするまでの時間（分）"),
        min_value=SESSION_TIMEOUT_MIN,
        max_value=SESSION_TIMEOUT_MAX,
    )
    oidc_enabled = forms.BooleanField(
        label=_("OpenID Connect によるシングルサインオンを使う"), required=False
    )
    oidc_issuer = forms.URLField(
        label=_("発行者（Issuer）URL"), required=False, max_length=200, assume_scheme="https"
    )
    oidc_client_id = forms.CharField(label=_("クライアントID"), required=False, max_length=200)
    oidc_client_secret = forms.CharField(
        label=_("クライアントシークレット"),
        required=False,
        max_length=500,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("空欄のままにすると、登録済みのシークレットを変更しません。"),
    )
    oidc_match = forms.ChoiceField(label=_("職員との照合方法"), choices=OidcMatch.choices)
    oidc_create_users = forms.BooleanField(
        label=_("初回ログイン時に職員を自動登録する（閲覧者として）"), required=False
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("oidc_enabled"):
            if not data.get("oidc_issuer"):
                self.add_error("oidc_issuer", _("シングルサインオンを使う場合は入力してください。"))
            if not data.get("oidc_client_id"):
                self.add_error(
                    "oidc_client_id", _("シングルサインオンを使う場合は入力してください。")
                )
        return data
