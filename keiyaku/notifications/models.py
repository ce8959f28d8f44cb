"""The e-mail outbox (written in the transaction of the event) and the mailbox of captured mail."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("送信待ち")
    SENT = "sent", _("送信済み")
    FAILED = "failed", _("送信失敗")


class OutboxMessage(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    contract = models.ForeignKey(
        "contracts.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="mails"
    )
    party = models.ForeignKey("contracts.Party", null=True, blank=True, on_delete=models.PROTECT)
    kind = models.CharField(max_length=40)
    to = models.EmailField()
    subject = models.CharField(max_length=300)
    body = models.TextField()
    # [{"blob": uuid, "filename": str}] — files attached from the encrypted store at send time.
    attachments = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    @property
    def is_failed(self) -> bool:
        """Given up on: refused for good, or every retry failed; the sender must act."""
        return self.status == OutboxStatus.FAILED


class CapturedMail(models.Model):
    """A message the capture back end kept instead of sending (trial organisations, R46).

    `organisation` is the one the mail concerns: only its staff may read it (selectors
    `captured_mail_visible_to`); mail of no organisation is for the platform operator only.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE
    )
    contract = models.ForeignKey(
        "contracts.Contract", null=True, blank=True, on_delete=models.SET_NULL
    )
    to = models.TextField()
    subject = models.CharField(max_length=300)
    body = models.TextField()
    # The HTML alternative as sent (issue 14); empty for a mail that had none.
    html = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class CapturedAttachment(models.Model):
    mail = models.ForeignKey(CapturedMail, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
