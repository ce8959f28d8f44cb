"""`{% webhooks_trouble %}`: on every administration screen, the organisation's endpoints that
keep failing or have events given up on (R40: never dropped unseen)."""

from __future__ import annotations

from typing import Any

from django import template

from keiyaku.accounts.permissions import is_org_admin
from keiyaku.webhooks.selectors import endpoints_in_trouble

register = template.Library()


@register.inclusion_tag("webhooks/_trouble.html", takes_context=True)
def webhooks_trouble(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if not is_org_admin(user):
        return {"endpoints": []}
    assert user is not None
    return {"endpoints": list(endpoints_in_trouble(user.organisation_id)[:10])}
