"""API tokens (R40): made and revoked by an organisation's admins, checked on every call.

A token is ``kyk_`` and 43 random URL-safe characters (256 bits). keiyaku keeps only its
keyed hash, HMAC-SHA256 under a key derived from the master key (`storage.crypto`), so a copy
of the database gives nobody a working token, and a lookup is one indexed read of the digest
(no timing of string comparisons to measure). After a master-key rotation a token made before
it is still found under KEIYAKU_MASTER_KEY_PREVIOUS.

A token acts as its staff member (`ApiToken.staff`): every endpoint reads through that
member's selectors and writes through the services that check that member's rights, and
the token's scope caps it further (a read token writes nothing, whatever its member may do).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Role, Staff
from keiyaku.accounts.permissions import is_org_admin, require_org_admin
from keiyaku.api.models import ApiToken, Scope
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.refusals import Refusal
from keiyaku.storage.crypto import derived_keys
from keiyaku.text_input import require_single_line

TOKEN_START = "kyk_"  # noqa: S105 - the prefix every token starts with, not a secret
_PURPOSE = "api-token"
# last_used_at is written at most this often per token: a busy integration does not write
# the token's row on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenRefused(Refusal):
    """A token keiyaku does not accept (401): none, unknown, revoked or expired."""

    default_code = "token_invalid"


class TokenError(Refusal):
    """A token the admin's form cannot make (name, scope, expiry, member)."""

    default_code = "token"


def token_digest(token: str, key: bytes) -> str:
    """HMAC-SHA256 of ``token`` under ``key``, hex (what `ApiToken.digest` holds)."""
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class MadeToken:
    """A token just made: its row and the token itself, shown once and never again."""

    token: ApiToken
    secret: str


def api_token_create(
    *,
    actor: Staff,
    name: str,
    scope: str,
    expires_at: datetime,
    staff: Staff | None = None,
    organisation_wide: bool = False,
    meta: RequestMeta = SYSTEM,
) -> MadeToken:
    """Make a token of the actor's organisation (R40); the caller shows ``secret`` once.

    Args:
        actor: an admin of the organisation (`require_org_admin`).
        name: how the admins and the audit log call it (unique among live tokens).
        scope: `Scope` (read, write, admin); admin needs an admin member.
        expires_at: when it stops working: after now, at most KEIYAKU_API_TOKEN_MAX_DAYS on.
        staff: the member it acts as (their visibility, R29, and rights, R2); ignored when
            ``organisation_wide``, which makes it act as ``actor`` (an admin sees the whole
            organisation's contracts).

    Raises:
        NotAllowed: the actor is not an admin of an organisation.
        TokenError: no name, an unknown scope, an expiry in the past or too far, a member of
            another organisation or inactive, an admin scope for a member who is not an admin,
            a name a live token already has.
    """
    organisation = actor.organisation
    require_org_admin(actor, organisation)
    assert organisation is not None
    name = name.strip()
    if not name:
        raise TokenError(
            _("トークンの名前を入力してください。"), code="name_required", field="name"
        )
    require_single_line(name=("名前", name))
    if scope not in Scope.values:
        raise TokenError(_("権限の指定が正しくありません。"), code="scope", field="scope")
    acting = actor if organisation_wide else staff
    if acting is None or acting.organisation_id != organisation.pk or not acting.is_active:
        raise TokenError(
            _("トークンが代わりに操作する職員を選んでください。"), code="staff", field="staff"
        )
    if scope == Scope.ADMIN and not acting.has_role(Role.ADMIN):
        raise TokenError(
            _("管理の権限は、管理者の職員として操作するトークンにだけ付けられます。"),
            code="scope_needs_admin",
            field="scope",
        )
    now = timezone.now()
    longest = timedelta(days=settings.KEIYAKU_API_TOKEN_MAX_DAYS)
    if not now < expires_at <= now + longest:
        raise TokenError(
            _("有効期限は、明日から%(days)s日以内の日付にしてください。")
            % {"days": settings.KEIYAKU_API_TOKEN_MAX_DAYS},
            code="expiry",
            field="expires_at",
        )
    secret = TOKEN_START + secrets.token_urlsafe(32)
    with transaction.atomic():
        if ApiToken.objects.filter(
            organisation=organisation, name=name, revoked_at__isnull=True
        ).exists():
            raise TokenError(
                _("同じ名前の有効なトークンがあります。"), code="name_taken", field="name"
            )
        token = ApiToken.objects.create(
            organisation=organisation,
            name=name,
            prefix=secret[:12],
            digest=token_digest(secret, derived_keys(_PURPOSE)[0]),
            scope=scope,
            staff=acting,
            organisation_wide=organisation_wide,
            created_by=actor,
            created_at=now,
            expires_at=expires_at,
        )
        audit_record(
            event="api_token.create",
            organisation=organisation,
            actor=actor,
            subject=f"api_token:{token.pk}",
            detail={
                "name": name,
                "prefix": token.prefix,
                "scope": scope,
                "staff": acting.username,
                "organisation_wide": organisation_wide,
                "expires_at": expires_at.isoformat(),
            },
            meta=meta,
        )
    return MadeToken(token=token, secret=secret)


def api_token_revoke(*, actor: Staff, token_id: int, meta: RequestMeta = SYSTEM) -> None:
    """Revoke a token of the actor's organisation: every call with it is refused from now on.
    Revoking a revoked token does nothing.

    Raises:
        NotAllowed: the actor is not an admin of an organisation.
        Http404-like `TokenError` (code ``not_found``): no such token in the organisation.
    """
    require_org_admin(actor, actor.organisation)
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update()
            .filter(pk=token_id, organisation=actor.organisation)
            .first()
        )
        if token is None:
            raise TokenError(_("トークンが見つかりません。"), code="not_found")
        if token.revoked_at is not None:
            return
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now(), revoked_by=actor)
        audit_record(
            event="api_token.revoke",
            organisation=token.organisation,
            actor=actor,
            subject=f"api_token:{token.pk}",
            detail={"name": token.name, "prefix": token.prefix},
            meta=meta,
        )


def api_token_check(secret: str) -> ApiToken:
    """The live token whose secret is ``secret`` (from ``Authorization: Bearer``), with its
    organisation and member loaded.

    Raises:
        TokenRefused: empty or unknown (``token_invalid``), revoked (``token_revoked``), past
            its expiry (``token_expired``), or its member can no longer act: inactive, or no
            longer an admin for an organisation-wide token (``token_inactive``).
    """
    token = None
    if secret.startswith(TOKEN_START) and len(secret) < 200:
        digests = [token_digest(secret, key) for key in derived_keys(_PURPOSE)]
        token = (
            ApiToken.objects.select_related("organisation", "staff__organisation")
            .filter(digest__in=digests)
            .first()
        )
    if token is None:
        raise TokenRefused(_("APIトークンが正しくありません。"))
    if token.revoked_at is not None:
        raise TokenRefused(_("このAPIトークンは無効にされています。"), code="token_revoked")
    if token.expires_at <= timezone.now():
        raise TokenRefused(_("このAPIトークンは有効期限が切れています。"), code="token_expired")
    member: Any = token.staff
    if (
        not member.is_active
        or member.organisation_id != token.organisation_id
        or (token.organisation_wide and not is_org_admin(member))
    ):
        raise TokenRefused(
            _("このAPIトークンが代わりに操作する職員は、現在操作できません。"),
            code="token_inactive",
        )
    return token


def api_token_used(token: ApiToken) -> None:
    """Record that ``token`` (as `api_token_check` read it for this call) was used now: at
    most once per LAST_USED_RESOLUTION, and no query at all when the row read says it was
    recorded within it."""
    now = timezone.now()
    if token.last_used_at is not None and token.last_used_at >= now - LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
        pk=token.pk,
    ).update(last_used_at=now)


def scope_allows(token: ApiToken, method: str, *, admin: bool = False) -> bool:
    """Whether the token's scope covers a call: a read token reads (GET, HEAD), a write token
    also changes contracts, an admin token also administers (staff, departments)."""
    if admin:
        return token.scope == Scope.ADMIN
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    return token.scope in (Scope.WRITE, Scope.ADMIN)
