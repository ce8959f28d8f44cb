"""`{% contract_applications contract as applications %}` for the contract detail page."""

from __future__ import annotations

from django import template

from keiyaku.applications.models import Application
from keiyaku.applications.selectors import applications_of

register = template.Library()


@register.simple_tag
def contract_applications(contract: object) -> list[Application]:
    """The contract's applications. The page that includes this has checked access already."""
    return list(applications_of(contract))  # type: ignore[arg-type]
