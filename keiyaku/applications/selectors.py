"""Reads for the online application: by link token (public) and by contract (staff, already
checked through keiyaku.contracts.selectors.contract_for)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keiyaku.applications.models import Application, ApplicationStatus
from keiyaku.applications.tokens import token_hash
from keiyaku.contracts.models import Contract
from keiyaku.contracts.states import contract_is_cancelled

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


class ApplicationLinkState(models.TextChoices):
    """What an application link leads to: the form, or why it is closed (the page's title)."""

    OK = "ok", _("電子契約利用申出書")
    INVALID = "invalid", _("このリンクは使用できません")
    SUBMITTED = "submitted", _("この利用申出書は提出済みです")
    CANCELLED = "cancelled", _("この案件は取り消されました")
    CLOSED = "closed", _("この利用申出書の受付は終了しました")  # the contract was sent
    EXPIRED = "expired", _("リンクの有効期限が切れています")


#: The text of a closed link's page; `%(when)s` is when the form was submitted.
APPLICATION_CLOSED_TEXT: dict[ApplicationLinkState, _StrPromise] = {
    ApplicationLinkState.INVALID: _(
        "リンクが正しくないか、無効になっています。メールに記載されたリンクをご確認ください。"
    ),
    ApplicationLinkState.SUBMITTED: _(
        "%(when)s に提出を受け付けました。内容を変更する場合は、下記のお問い合わせ先にご連絡"
        "ください。"
    ),
    ApplicationLinkState.CANCELLED: _("送信者により案件が取り消されたため、提出できません。"),
    ApplicationLinkState.CLOSED: _(
        "この案件はすでに署名手続きに進んでいるため、利用申出書を提出できません。"
        "下記のお問い合わせ先にご連絡ください。"
    ),
    ApplicationLinkState.EXPIRED: _("新しいリンクの送付を、下記のお問い合わせ先にご依頼ください。"),
}


@dataclass(frozen=True)
class ApplicationState:
    state: ApplicationLinkState
    application: Application | None = None


def application_state(token: str) -> ApplicationState:
    """What a link leads to. Checked in this order, so a submitted form stays "submitted"."""
    if not token or len(token) > 100:
        return ApplicationState(ApplicationLinkState.INVALID)
    application = (
        Application.objects.select_related(
            "contract__organisation", "contract__department", "contract__created_by", "party"
        )
        .filter(token_hash=token_hash(token))
        .first()
    )
    if application is None:
        return ApplicationState(ApplicationLinkState.INVALID)
    if application.is_submitted:
        return ApplicationState(ApplicationLinkState.SUBMITTED, application)
    if contract_is_cancelled(application.contract):
        return ApplicationState(ApplicationLinkState.CANCELLED, application)
    if not application.contract.is_editable:
        return ApplicationState(ApplicationLinkState.CLOSED, application)
    if application.expires_at <= timezone.now():
        return ApplicationState(ApplicationLinkState.EXPIRED, application)
    return ApplicationState(ApplicationLinkState.OK, application)


def applications_of(contract: Contract) -> QuerySet[Application]:
    return Application.objects.filter(contract=contract).order_by("created_at", "id")


def consents_of(contract: Contract) -> QuerySet[Application]:
    """Submitted applications: each carries a recorded consent."""
    return applications_of(contract).filter(
        status=ApplicationStatus.SUBMITTED, submitted_at__isnull=False
    )
