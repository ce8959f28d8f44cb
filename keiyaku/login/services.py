"""Sign-in writes: failures and locks, second factor, enrolment, organisation policy.

Each function runs in one transaction and writes its audit event in it. Views only parse input,
call one of these and render. The time comes from `login.clock`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Organisation, Role, Staff
from keiyaku.accounts.permissions import require_org_admin
from keiyaku.accounts.services import staff_create
from keiyaku.ascii_digits import is_ascii_digits
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.login import clock, oidc, totp
from keiyaku.login.models import (
    SESSION_TIMEOUT_MAX,
    SESSION_TIMEOUT_MIN,
    OidcMatch,
    OrganisationSignIn,
    RecoveryCode,
    StaffSignIn,
)
from keiyaku.outbound_http import OutboundRefused, url_check
from keiyaku.refusals import Refusal
from keiyaku.storage import crypto
from keiyaku.text_input import forbidden_characters, one_line, require_single_line

RECOVERY_CODES = 10
_TOTP_PURPOSE = crypto.TOTP_PURPOSE
_OIDC_PURPOSE = crypto.OIDC_CLIENT_SECRET_PURPOSE

log = logging.getLogger(__name__)


class SignInRefused(Refusal):
    """A refusal of the sign-in services (see keiyaku.refusals)."""


# --- reads -----------------------------------------------------------------------------------


def policy_for(organisation: Organisation | None) -> OrganisationSignIn:
    """The organisation's policy; an unsaved default when it has none (or for no organisation)."""
    if organisation is None:
        return OrganisationSignIn(session_timeout_minutes=settings.KEIYAKU_SESSION_IDLE_MINUTES)
    found = OrganisationSignIn.objects.filter(organisation=organisation).first()
    return found or OrganisationSignIn(
        organisation=organisation, session_timeout_minutes=settings.KEIYAKU_SESSION_IDLE_MINUTES
    )


def policy_of_request_user(user: Staff) -> OrganisationSignIn:
    """The sign-in policy for the staff member a request is made by (`SignInPolicyMiddleware`):
    read with them, absent row included, by keiyaku.login.backends.StaffBackend, so no query
    (issue 12); `policy_for` reads it afresh for any other organisation object, whose cached
    relation could be older than the row (a long-lived object, a rotation re-sealing it)."""
    organisation = user.organisation
    if organisation is not None and type(organisation).signin.is_cached(organisation):
        found: OrganisationSignIn | None = getattr(organisation, "signin", None)
        return found or OrganisationSignIn(
            organisation=organisation,
            session_timeout_minutes=settings.KEIYAKU_SESSION_IDLE_MINUTES,
        )
    return policy_for(organisation)


def state_for(staff: Staff) -> StaffSignIn:
    state, _ = StaffSignIn.objects.get_or_create(staff=staff)
    return state


def lock_ends_at(state: StaffSignIn) -> datetime | None:
    if state.locked_at is None:
        return None
    return state.locked_at + timedelta(minutes=settings.KEIYAKU_LOGIN_LOCK_MINUTES)


def is_locked(state: StaffSignIn) -> bool:
    ends = lock_ends_at(state)
    return ends is not None and clock.now() < ends


def locked_staff(organisation: Organisation) -> list[tuple[Staff, datetime]]:
    """Staff of the organisation locked out now, with the time the lock ends by itself."""
    since = clock.now() - timedelta(minutes=settings.KEIYAKU_LOGIN_LOCK_MINUTES)
    states = (
        StaffSignIn.objects.filter(staff__organisation=organisation, locked_at__gt=since)
        .select_related("staff")
        .order_by("staff__username")
    )
    return [
        (s.staff, s.locked_at + timedelta(minutes=settings.KEIYAKU_LOGIN_LOCK_MINUTES))
        for s in states
        if s.locked_at
    ]


def totp_enrolled_staff(organisation: Organisation) -> list[Staff]:
    """Staff of the organisation who have set up TOTP (an admin may reset it)."""
    return list(
        Staff.objects.filter(
            organisation=organisation, signin_state__totp_enrolled_at__isnull=False
        ).order_by("username")
    )


def oidc_client_secret(policy: OrganisationSignIn) -> str:
    if not policy.oidc_client_secret_sealed:
        return ""
    return crypto.open_text(policy.oidc_client_secret_sealed, purpose=_OIDC_PURPOSE)


def totp_secret(state: StaffSignIn) -> str:
    return crypto.open_text(state.totp_secret_sealed, purpose=_TOTP_PURPOSE)


# --- password step ---------------------------------------------------------------------------


def _locked_message() -> str:
    return _(
        "ログインに続けて失敗したため、このアカウントは一時的にロックされています。"
        "%(minutes)s分後に再度お試しいただくか、管理者に解除を依頼してください。"
    ) % {"minutes": settings.KEIYAKU_LOGIN_LOCK_MINUTES}


def bad_credentials_message() -> str:
    return _("ログインIDまたはパスワードが正しくありません。")


def login_check_not_locked(*, staff: Staff, meta: RequestMeta) -> None:
    """Refuse (and record) any login of a locked account, even with the right password."""
    if is_locked(state_for(staff)):
        with transaction.atomic():
            _locked_audit(staff=staff, meta=meta)
        raise SignInRefused(_locked_message(), code="locked")


@transaction.atomic
def login_failure_record(
    *, staff: Staff | None, login_id: str, reason: str, meta: RequestMeta
) -> str:
    """Count a failed password or second factor; lock at the configured number (R37).

    Counting and locking are one step under the lock of the staff member's sign-in row, so
    parallel failures count exactly KEIYAKU_LOGIN_MAX_FAILURES and one of them locks (one
    `login.locked` entry). A failure of an account locked meanwhile is recorded but not counted.

    Returns the message to show: the lock message when the account is locked, otherwise the
    generic one (which does not say whether the login ID exists). The caller raises, outside
    this transaction, so that the count and the audit entry are kept.
    """
    if staff is None:
        audit_record(
            event="login.failure",
            actor_label=login_id[:150],
            detail={"reason": reason, "login_id": login_id[:150]},
            meta=meta,
        )
        return bad_credentials_message()
    state_for(staff)
    state = StaffSignIn.objects.select_for_update().get(staff=staff)
    if is_locked(state):
        _locked_audit(staff=staff, meta=meta)
        return _locked_message()
    if state.locked_at is not None:
        # The previous lock ran out: count afresh.
        state.locked_at = None
        state.failed_attempts = 0
    state.failed_attempts += 1
    locked_now = state.failed_attempts >= settings.KEIYAKU_LOGIN_MAX_FAILURES
    if locked_now:
        state.locked_at = clock.now()
    state.save(update_fields=["failed_attempts", "locked_at"])
    audit_record(
        event="login.failure",
        organisation=staff.organisation,
        actor=staff,
        detail={"reason": reason, "failed_attempts": state.failed_attempts},
        meta=meta,
    )
    if locked_now:
        audit_record(
            event="login.locked",
            organisation=staff.organisation,
            actor=staff,
            detail={"failed_attempts": state.failed_attempts},
            meta=meta,
        )
        return _locked_message()
    if reason == "totp":
        return _("確認コードが正しくありません。")
    return bad_credentials_message()


def login_success_record(*, staff: Staff, method: str, meta: RequestMeta) -> None:
    """Record a login that passed every step, and start the failure count again (R37).

    Parallel wrong passwords may have locked the account while this one's password or code
    was being checked: the lock is read again under the lock of the sign-in row, and a locked
    account is refused even now (recorded as a failure, not counted; the lock stays).
    """
    with transaction.atomic():
        state_for(staff)
        state = StaffSignIn.objects.select_for_update().get(staff=staff)
        locked = is_locked(state)
        if locked:
            _locked_audit(staff=staff, meta=meta)
        else:
            state.failed_attempts = 0
            state.locked_at = None
            state.save(update_fields=["failed_attempts", "locked_at"])
            audit_record(
                event="login.success",
                organisation=staff.organisation,
                actor=staff,
                detail={"method": method},
                meta=meta,
            )
    if locked:
        raise SignInRefused(_locked_message(), code="locked")


def _locked_audit(*, staff: Staff, meta: RequestMeta) -> None:
    audit_record(
        event="login.failure",
        organisation=staff.organisation,
        actor=staff,
        detail={"reason": "locked"},
        meta=meta,
    )


def second_step_needed(staff: Staff) -> str | None:
    """ "totp" when the staff member has TOTP, "enrol" when the organisation requires it and they
    have none yet, None when the password is enough."""
    if state_for(staff).has_totp:
        return "totp"
    if policy_for(staff.organisation).totp_required:
        return "enrol"
    return None


# --- second factor ---------------------------------------------------------------------------


def _recovery_hash(staff: Staff, code: str) -> str:
    normalised = code.strip().replace("-", "").replace(" ", "").lower()
    return hashlib.sha256(f"{staff.pk}:{normalised}".encode()).hexdigest()


def _new_recovery_codes(staff: Staff) -> list[str]:
    RecoveryCode.objects.filter(staff=staff).delete()
    codes = []
    for _i in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits, single use, only after the password
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(staff=staff, code_hash=_recovery_hash(staff, c)) for c in codes]
    )
    return codes


def second_factor_verify(*, staff: Staff, code: str, meta: RequestMeta) -> str:
    """ "totp" or "recovery" when the code is right (a recovery code is then used up).

    A wrong code counts as a failed login; raises SignInRefused.
    """
    if is_locked(state_for(staff)):
        raise SignInRefused(_locked_message(), code="locked")
    method = _second_factor_check(staff=staff, code=(code or "").strip(), meta=meta)
    if method is None:
        raise SignInRefused(
            login_failure_record(staff=staff, login_id=staff.username, reason="totp", meta=meta),
            code="wrong_code",
        )
    return method


@transaction.atomic
def _second_factor_check(*, staff: Staff, code: str, meta: RequestMeta) -> str | None:
    state_for(staff)
    state = StaffSignIn.objects.select_for_update().get(staff=staff)
    if is_locked(state):
        return None
    if state.has_totp:
        step = totp.verify(
            totp_secret(state), code, clock.now().timestamp(), after_step=state.totp_last_step
        )
        if step is not None:
            state.totp_last_step = step
            state.save(update_fields=["totp_last_step"])
            return "totp"
    if code and not is_ascii_digits(code):
        used = RecoveryCode.objects.filter(
            staff=staff, code_hash=_recovery_hash(staff, code), used_at__isnull=True
        ).update(used_at=clock.now())
        if used == 1:
            left = RecoveryCode.objects.filter(staff=staff, used_at__isnull=True).count()
            audit_record(
                event="login.recovery_code",
                organisation=staff.organisation,
                actor=staff,
                detail={"left": left},
                meta=meta,
            )
            return "recovery"
    return None


@transaction.atomic
def totp_enrol(*, staff: Staff, secret: str, code: str, meta: RequestMeta) -> list[str]:
    """Keep the secret once the user proved their app has it; returns new recovery codes."""
    now = clock.now()
    step = totp.verify(secret, code or "", now.timestamp())
    if step is None:
        # Nothing written yet: rolling back loses nothing.
        raise SignInRefused(
            _(
                "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください。"
            ),
            code="wrong_code",
        )
    state_for(staff)
    StaffSignIn.objects.filter(staff=staff).update(
        totp_secret_sealed=crypto.seal_text(secret, purpose=_TOTP_PURPOSE),
        totp_enrolled_at=now,
        totp_last_step=step,
    )
    codes = _new_recovery_codes(staff)
    audit_record(event="totp.enrol", organisation=staff.organisation, actor=staff, meta=meta)
    return codes


@transaction.atomic
def recovery_codes_renew(*, staff: Staff, meta: RequestMeta) -> list[str]:
    if not state_for(staff).has_totp:
        raise SignInRefused(_("2段階認証が設定されていません。"), code="totp_not_enrolled")
    codes = _new_recovery_codes(staff)
    audit_record(
        event="totp.recovery_codes", organisation=staff.organisation, actor=staff, meta=meta
    )
    return codes


def recovery_codes_left(staff: Staff) -> int:
    return RecoveryCode.objects.filter(staff=staff, used_at__isnull=True).count()


@transaction.atomic
def totp_remove(*, staff: Staff, actor: Staff, meta: RequestMeta) -> None:
    """Remove a staff member's TOTP: an admin may (to reset a lost device); the member
    themselves only where the organisation does not require two-step login (R37).

    Raises:
        NotAllowed: a member who is neither the staff member nor an admin of the organisation.
        SignInRefused: the member themselves, when the organisation requires TOTP
            (code ``totp_required``).
    """
    if actor.pk != staff.pk:
        require_org_admin(actor, staff.organisation)
    elif policy_for(staff.organisation).totp_required:
        raise SignInRefused(
            _("この組織では2段階認証が必須のため、解除できません。"), code="totp_required"
        )
    StaffSignIn.objects.filter(staff=staff).update(
        totp_secret_sealed="", totp_enrolled_at=None, totp_last_step=None
    )
    RecoveryCode.objects.filter(staff=staff).delete()
    audit_record(
        event="totp.remove",
        organisation=staff.organisation,
        actor=actor,
        subject=f"staff:{staff.pk}",
        detail={"staff": staff.username},
        meta=meta,
    )


# --- administration --------------------------------------------------------------------------


@transaction.atomic
def lock_release(*, staff: Staff, actor: Staff, meta: RequestMeta) -> None:
    assert staff.organisation is not None
    require_org_admin(actor, staff.organisation)
    StaffSignIn.objects.filter(staff=staff).update(failed_attempts=0, locked_at=None)
    audit_record(
        event="login.unlock",
        organisation=staff.organisation,
        actor=actor,
        subject=f"staff:{staff.pk}",
        detail={"staff": staff.username},
        meta=meta,
    )


@dataclass(frozen=True)
class PolicyValues:
    """What an administrator sets on the sign-in settings screen."""

    totp_required: bool
    session_timeout_minutes: int
    oidc_enabled: bool
    oidc_issuer: str
    oidc_client_id: str
    oidc_match: str
    oidc_create_users: bool
    # None keeps the stored secret; "" clears it.
    oidc_client_secret: str | None = None


@transaction.atomic
def organisation_signin_update(
    *, organisation: Organisation, actor: Staff, values: PolicyValues, meta: RequestMeta
) -> OrganisationSignIn:
    require_org_admin(actor, organisation)
    if values.oidc_match not in OidcMatch.values:
        raise SignInRefused(_("照合方法が正しくありません。"), code="oidc_match")
    minutes = values.session_timeout_minutes
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not SESSION_TIMEOUT_MIN <= minutes <= SESSION_TIMEOUT_MAX
    ):
        raise SignInRefused(
            _("無操作でログアウトするまでの時間は%(min)d〜%(max)d分で指定してください。")
            % {"min": SESSION_TIMEOUT_MIN, "max": SESSION_TIMEOUT_MAX},
            code="session_timeout",
            field="session_timeout_minutes",
        )
    require_single_line(
        oidc_issuer=("発行者（Issuer）URL", values.oidc_issuer),
        oidc_client_id=("クライアントID", values.oidc_client_id),
    )
    if values.oidc_issuer:
        # keiyaku's server will call this URL: an internal address is refused now, not at login.
        try:
            url_check(values.oidc_issuer)
        except OutboundRefused as refused:
            raise SignInRefused(refused.message, code=refused.code, field="oidc_issuer") from None
    policy, _created = OrganisationSignIn.objects.select_for_update().get_or_create(
        organisation=organisation,
        defaults={"session_timeout_minutes": settings.KEIYAKU_SESSION_IDLE_MINUTES},
    )
    before = _policy_summary(policy)
    policy.totp_required = values.totp_required
    policy.session_timeout_minutes = values.session_timeout_minutes
    policy.oidc_enabled = values.oidc_enabled
    policy.oidc_issuer = values.oidc_issuer.rstrip("/")
    policy.oidc_client_id = values.oidc_client_id
    policy.oidc_match = values.oidc_match
    policy.oidc_create_users = values.oidc_create_users
    if values.oidc_client_secret is not None:
        policy.oidc_client_secret_sealed = (
            crypto.seal_text(values.oidc_client_secret, purpose=_OIDC_PURPOSE)
            if values.oidc_client_secret
            else ""
        )
    policy.save()
    audit_record(
        event="signin.settings",
        organisation=organisation,
        actor=actor,
        detail={
            "before": before,
            "after": _policy_summary(policy),
            "client_secret_changed": values.oidc_client_secret is not None,
        },
        meta=meta,
    )
    return policy


def _policy_summary(policy: OrganisationSignIn) -> dict[str, Any]:
    return {
        "totp_required": policy.totp_required,
        "session_timeout_minutes": policy.session_timeout_minutes,
        "oidc_enabled": policy.oidc_enabled,
        "oidc_issuer": policy.oidc_issuer,
        "oidc_client_id": policy.oidc_client_id,
        "oidc_match": policy.oidc_match,
        "oidc_create_users": policy.oidc_create_users,
    }


# --- single sign-on --------------------------------------------------------------------------


def oidc_start(*, client: oidc.Client) -> tuple[str, oidc.Pending]:
    """Where to send the browser, and what the callback must find again (PKCE, nonce, state).

    Raises SignInRefused (code ``oidc_unavailable``) when the provider cannot be used; what the
    provider answered goes to the log, never to the user.
    """
    try:
        return oidc.authorization_url(client)
    except oidc.OidcError as exc:
        log.warning("OIDC start at %s failed: %s", client.issuer, exc)
        raise SignInRefused(
            _("IDプロバイダに接続できませんでした。しばらくしてから再度お試しください。"),
            code="oidc_unavailable",
        ) from exc


def oidc_sign_in(
    *,
    organisation: Organisation,
    policy: OrganisationSignIn,
    client: oidc.Client,
    code: str,
    pending: oidc.Pending,
    meta: RequestMeta,
) -> Staff:
    """The staff member the provider's checked ID token names (see `oidc_staff_for`), if not
    locked.

    Raises SignInRefused: code ``oidc_response`` when the provider's answer cannot be checked
    (the reason goes to the log), otherwise the refusal of `oidc_staff_for` or ``locked``.
    """
    try:
        claims = oidc.id_token_claims(client, code=code, pending=pending)
    except oidc.OidcError as exc:
        log.warning("OIDC callback for %s refused: %s", organisation.slug, exc)
        raise SignInRefused(
            _("IDプロバイダからの応答を確認できませんでした。"), code="oidc_response"
        ) from exc
    staff = oidc_staff_for(organisation=organisation, policy=policy, claims=claims, meta=meta)
    login_check_not_locked(staff=staff, meta=meta)
    return staff


def oidc_staff_for(
    *,
    organisation: Organisation,
    policy: OrganisationSignIn,
    claims: dict[str, Any],
    meta: RequestMeta,
) -> Staff:
    """The staff member an ID token names, matched by the organisation's rule; created on first
    login only when the organisation allows it. Raises SignInRefused otherwise."""
    email = str(claims.get("email") or "").strip()
    username = str(claims.get("preferred_username") or "").strip()
    subject = str(claims.get("sub") or "")
    staff_in_org = Staff.objects.filter(organisation=organisation)
    if policy.oidc_match == OidcMatch.EMAIL:
        if not email or claims.get("email_verified") is False:
            raise SignInRefused(
                _("IDプロバイダから確認済みのメールアドレスが届きませんでした。"),
                code="oidc_no_email",
            )
        matches = list(staff_in_org.filter(email__iexact=email)[:2])
    else:
        if not username:
            raise SignInRefused(
                _("IDプロバイダからログインIDが届きませんでした。"), code="oidc_no_login_id"
            )
        matches = list(staff_in_org.filter(username=username)[:2])
    if len(matches) > 1:
        raise SignInRefused(
            _(
                "同じメールアドレスの職員が複数登録されているため、ログインできません。管理者にお問い合わせください。"
            ),
            code="oidc_ambiguous",
        )
    detail = {"method": "oidc", "issuer": policy.oidc_issuer, "sub": subject}
    if matches:
        staff = matches[0]
        if not staff.is_active:
            raise SignInRefused(_("このアカウントは利用停止されています。"), code="inactive")
        return staff
    if not policy.oidc_create_users:
        with transaction.atomic():
            audit_record(
                event="login.failure",
                organisation=organisation,
                actor_label=email or username,
                detail={**detail, "reason": "oidc_unknown_user", "email": email},
                meta=meta,
            )
        raise SignInRefused(
            _(
                "%(organisation)sの職員として登録されていないため、ログインできません。管理者に登録を依頼してください。"
            )
            % {"organisation": organisation.name},
            code="oidc_unknown_user",
        )
    return _oidc_staff_create(
        organisation=organisation, claims=claims, email=email, username=username, meta=meta
    )


@transaction.atomic
def _oidc_staff_create(
    *,
    organisation: Organisation,
    claims: dict[str, Any],
    email: str,
    username: str,
    meta: RequestMeta,
) -> Staff:
    # The provider's claims reach mail and PDFs as staff names: one line each (the person may
    # have typed their name at the provider), and an address on one line or none.
    require_single_line(email=("メールアドレス", email))
    login_id = username or email
    if (
        not login_id
        or forbidden_characters(login_id)
        or Staff.objects.filter(username=login_id).exists()
    ):
        login_id = f"{organisation.slug}-{secrets.token_hex(4)}"
    staff = staff_create(
        organisation=organisation,
        username=login_id[:150],
        password=None,  # signs in through the provider only
        display_name=one_line(str(claims.get("name") or ""))[:200],
        email=email,
        roles=[Role.VIEWER],
    )
    audit_record(
        event="staff.create",
        organisation=organisation,
        actor=staff,
        subject=f"staff:{staff.pk}",
        detail={"method": "oidc", "sub": str(claims.get("sub") or ""), "roles": [Role.VIEWER]},
        meta=meta,
    )
    return staff
