"""The online application 電子契約利用申出書 (R14): one row per link sent to a company."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApplicationStatus(models.TextChoices):
    SENT = "sent", _("回答待ち")
    SUBMITTED = "submitted", _("提出済み")


class Application(models.Model):
    """A link to the public form, then the company's answers and its recorded consent.

    Only the SHA-256 of the link's token is stored. The access code the company chooses goes
    (hashed) to the party it creates and is never kept here.
    """

    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="applications"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Who the link was sent to, as the sender typed it.
    company = models.CharField(_("会社名"), max_length=200)
    email = models.EmailField(_("メールアドレス"))
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.SENT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # The answers (契約締結権限者 and up to three 契約担当者).
    signer_company = models.CharField(_("商号又は名称"), max_length=200, blank=True)
    signer_title = models.CharField(_("役職"), max_length=100, blank=True)
    signer_name = models.CharField(_("氏名"), max_length=200, blank=True)
    signer_email = models.EmailField(_("メールアドレス"), blank=True)
    staff_contacts = models.JSONField(default=list, blank=True)  # [{"name", "email"}]
    # The consent under 建設業法施行令第5条の5: the exact statement, who, when, from where.
    consent_text = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_ip = models.GenericIPAddressField(null=True, blank=True)
    submitted_user_agent = models.CharField(max_length=500, blank=True)
    # The party the answers created; it may later be removed from the draft by the sender.
    party = models.ForeignKey(
        "contracts.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.company} <{self.email}>"

    @property
    def is_submitted(self) -> bool:
        return self.status == ApplicationStatus.SUBMITTED
