"""Writing the audit log. Call inside the transaction of the operation it records."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from keiyaku.audit.models import Event


@dataclass(frozen=True)
class RequestMeta:
    """Where an operation came from (R19): client address and user agent."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: Any) -> RequestMeta:
        return cls(
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:500],
        )


SYSTEM = RequestMeta()


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def audit_record(
    *,
    event: str,
    organisation: Any = None,
    actor: Any = None,
    actor_label: str = "",
    subject: str = "",
    detail: dict[str, Any] | None = None,
    meta: RequestMeta = SYSTEM,
) -> Event:
    now = timezone.now()
    last = Event.objects.order_by("-id").values_list("hash", flat=True).first() or ""
    label = actor_label or (actor.label if actor is not None else "")
    fields: dict[str, Any] = {
        "organisation": getattr(organisation, "pk", None),
        "actor": getattr(actor, "pk", None),
        "actor_label": label,
        "subject": subject,
        "event": event,
        "detail": detail or {},
        "ip": meta.ip,
        "user_agent": meta.user_agent,
        "created_at": now.isoformat(),
    }
    return Event.objects.create(
        organisation=organisation,
        actor=actor,
        actor_label=label,
        subject=subject,
        event=event,
        detail=fields["detail"],
        ip=meta.ip,
        user_agent=meta.user_agent,
        created_at=now,
        prev_hash=last,
        hash=_digest(last, fields),
    )
