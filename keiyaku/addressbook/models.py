"""Companies and contacts of an organisation's address book (R12).

A company with no department is shared with the whole organisation; one with a department is
private to that department (and the organisation's administrators). Its contacts follow it.
Access codes are chosen per contract, so none is stored here.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Company(models.Model):
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="null: shared with the whole organisation; set: private to this department",
    )
    name = models.CharField(_("会社名"), max_length=200)
    kana = models.CharField(_("会社名カナ"), max_length=200, blank=True)
    note = models.TextField(_("備考"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kana", "name", "id"]
        constraints = [
            # NULLs are distinct in a unique index, so the shared scope needs its own constraint.
            models.UniqueConstraint(
                fields=["organisation", "name"],
                condition=models.Q(department__isnull=True),
                name="addressbook_company_unique_shared",
            ),
            models.UniqueConstraint(
                fields=["organisation", "department", "name"],
                condition=models.Q(department__isnull=False),
                name="addressbook_company_unique_private",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_shared(self) -> bool:
        return self.department_id is None


class Contact(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("氏名"), max_length=200)
    email = models.EmailField(_("メールアドレス"), max_length=254)
    phone = models.CharField(_("電話番号"), max_length=50, blank=True)
    title = models.CharField(_("部署・役職"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["company__kana", "company__name", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                "company", Lower("email"), name="addressbook_contact_unique_email"
            )
        ]

    def __str__(self) -> str:
        return f"{self.company.name} {self.name} <{self.email}>"
