"""Reads for the online application: by link token (public) and by contract (staff, already
checked through keiyaku.contracts.selectors.contract_for)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from keiyaku.applications.models import Application, ApplicationStatus
from keiyaku.applications.services import token_hash
from keiyaku.contracts.models import Contract, ContractStatus


@dataclass(frozen=True)
class ApplicationState:
    state: str
    """ok, invalid, submitted, cancelled, closed (the contract is no longer a draft), expired."""
    application: Application | None = None


def application_state(token: str) -> ApplicationState:
    """What a link leads to. Checked in this order, so a submitted form stays "submitted"."""
    if not token or len(token) > 100:
        return ApplicationState("invalid")
    application = (
        Application.objects.select_related("contract__organisation", "party")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if application is None:
        return ApplicationState("invalid")
    if application.status == ApplicationStatus.SUBMITTED:
        return ApplicationState("submitted", application)
    if application.contract.status == ContractStatus.CANCELLED:
        return ApplicationState("cancelled", application)
    if application.contract.status != ContractStatus.DRAFT:
        return ApplicationState("closed", application)
    if application.expires_at <= timezone.now():
        return ApplicationState("expired", application)
    return ApplicationState("ok", application)


def applications_of(contract: Contract) -> QuerySet[Application]:
    return Application.objects.filter(contract=contract).order_by("created_at", "id")


def consents_of(contract: Contract) -> QuerySet[Application]:
    """Submitted applications: each carries a recorded consent."""
    return applications_of(contract).filter(
        status=ApplicationStatus.SUBMITTED, submitted_at__isnull=False
    )
