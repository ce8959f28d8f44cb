"""Organisations (tenants), their departments and staff (R1, R2)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# Lengths of a counterparty's access code (R18), which it types from the signing request.
ACCESS_CODE_MIN_LENGTH = 4
ACCESS_CODE_MAX_LENGTH = 32

# Renewal alerts (R31): the default days before a date, and the most reminders and days allowed.
RENEWAL_ALERT_DAYS_DEFAULT = (30,)
RENEWAL_ALERT_MAX_COUNT = 5
RENEWAL_ALERT_MAX_DAYS = 365


def default_renewal_alert_days() -> list[int]:
    """A new organisation's renewal alerts: 30 days before (R31)."""
    return list(RENEWAL_ALERT_DAYS_DEFAULT)


class ContactFields(models.Model):
    """Who a counterparty asks (issue 14, 「問い合わせ先」): shown on every counterparty page and
    in every counterparty mail, the contract's department's block first, else the
    organisation's (`keiyaku.accounts.contacts.contact_for`). All single-line; empty is unset."""

    contact_department = models.CharField(_("問い合わせ先の部署"), max_length=200, blank=True)
    contact_person = models.CharField(_("担当者"), max_length=200, blank=True)
    contact_phone = models.CharField(_("電話番号"), max_length=30, blank=True)
    contact_email = models.EmailField(_("問い合わせ用メールアドレス"), blank=True)
    contact_hours = models.CharField(_("受付時間"), max_length=200, blank=True)

    class Meta:
        abstract = True


class Organisation(ContactFields):
    """A municipality or other tenant. Nothing of one is visible to another."""

    name = models.CharField(_("名称"), max_length=200)
    slug = models.SlugField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Settings of the organisation, changed by its admins (R29, R38).
    include_subdepartments = models.BooleanField(_("下位の所属の案件も閲覧できる"), default=False)
    ip_allowlist = models.TextField(
        _("接続を許可するIPアドレス"), blank=True
    )  # one address or CIDR range per line; empty = no restriction
    # A trial organisation (R46) practises: its mail is never sent, only kept for its own staff
    # on the mailbox page (keiyaku.notifications.services.mail_connection).
    is_trial = models.BooleanField(_("練習用組織"), default=False)
    # The shortest access code its senders and applicants may choose (R18): 4 by default, as
    # municipal application forms ask for; an organisation may require longer ones.
    access_code_min_length = models.PositiveSmallIntegerField(
        _("アクセスコードの最小文字数"),
        default=ACCESS_CODE_MIN_LENGTH,
        validators=[
            MinValueValidator(ACCESS_CODE_MIN_LENGTH),
            MaxValueValidator(ACCESS_CODE_MAX_LENGTH),
        ],
    )
    # Keep ordinary links (web addresses, jumps within the file) in uploaded PDFs (issue 10,
    # finding 3). Off by default: a link in a signed contract leads to a page that can change
    # after signing and is not part of what was agreed, and a link inside a file the
    # organisation signed and e-mailed looks trustworthy to whoever receives it. What a
    # contract binds is printed on its pages; an organisation whose contracts cite web pages
    # turns it on. Scripts and other active content are removed either way.
    keep_pdf_links = models.BooleanField(_("アップロードしたPDFのリンクを残す"), default=False)
    # Deadlines in counterparty mails and pages also in the Japanese era (令和8年12月8日), as
    # many municipal documents are written (issue 14); JST and the Western date either way.
    deadline_wareki = models.BooleanField(_("署名期限を和暦でも表示する"), default=False)
    # Renewal alerts (R31): how many days before a contract's period end (and an automatically
    # renewed contract's notice deadline) its department's senders are mailed, largest first.
    renewal_alert_days = models.JSONField(
        _("更新・終了のお知らせ（日前）"), default=default_renewal_alert_days, blank=True
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    access_code_min_length__gte=ACCESS_CODE_MIN_LENGTH,
                    access_code_min_length__lte=ACCESS_CODE_MAX_LENGTH,
                ),
                name="organisation_access_code_min_length_range",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Department(ContactFields):
    """A 部 or 課; `parent` builds the tree."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="departments"
    )
    name = models.CharField(_("所属名"), max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="department_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("管理者")
    SENDER = "sender", _("契約事務担当者")
    APPROVER = "approver", _("承認者")
    SIGNER = "signer", _("契約締結権限者")
    VIEWER = "viewer", _("閲覧者")


class Staff(AbstractUser):
    """A member of an organisation's staff. `username` is the login ID.

    A platform operator (superuser) has no organisation; every other account has one.
    """

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT)
    display_name = models.CharField(_("氏名"), max_length=200, blank=True)
    kana = models.CharField(_("ふりがな"), max_length=200, blank=True)
    roles = models.JSONField(default=list, blank=True)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def label(self) -> str:
        return self.display_name or self.username

    @property
    def role_labels(self) -> list[str]:
        return [str(label) for value, label in Role.choices if value in self.roles]
