"""Every change to a counterparty's account (R3): the one-time link, registration and sign-in,
TOTP. Each runs in one transaction with its audit entry; mail goes out after the commit.

Audit entries carry no organisation: an organisation sees nothing of the account (R3), only the
signatures made to it. The platform operator sees them with the rest of the log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.counterparty_accounts.addresses import address_normalise
from keiyaku.counterparty_accounts.models import CounterpartyAccount, SignInLink
from keiyaku.counterparty_accounts.selectors import address_has_signed
from keiyaku.login import clock, totp
from keiyaku.notifications.services import mail_connection
from keiyaku.ratelimits.limiter import Limit, rate_allow
from keiyaku.refusals import Refusal
from keiyaku.storage import crypto

_TOTP_PURPOSE = crypto.TOTP_PURPOSE


class AccountRefused(Refusal):
    """A refusal of the counterparty account's services (see keiyaku.refusals)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _label(email: str) -> str:
    return f"counterparty <{email}>"


def _subject(account: CounterpartyAccount) -> str:
    return f"counterparty_account:{account.pk}"


# --- the one-time link -----------------------------------------------------------------------


def signin_link_request(*, email: str, meta: RequestMeta) -> bool:
    """Mail a one-time sign-in link to ``email`` (registration when it has no account yet),
    valid KEIYAKU_ACCOUNT_LINK_MINUTES. Returns whether a mail was queued: only an address
    that signed a contract here as a counterparty is sent one, so keiyaku mails nobody it has
    not dealt with. The caller shows the same page either way: whether an address is known is
    not told to whoever types it.

    Counted per client address and per e-mail address (KEIYAKU_RATE_ACCOUNT_MAIL_PER_IP,
    KEIYAKU_RATE_ACCOUNT_MAIL_PER_ADDRESS, each a (count, window seconds) pair) before
    anything else. Raises AccountRefused (code ``rate_limited``) past either limit.
    """
    email = address_normalise(email)
    per_ip, ip_window = settings.KEIYAKU_RATE_ACCOUNT_MAIL_PER_IP
    per_address, address_window = settings.KEIYAKU_RATE_ACCOUNT_MAIL_PER_ADDRESS
    limits = [Limit(f"account-mail-address:{email[:254]}", per_address, address_window)]
    if meta.ip:
        limits.append(Limit(f"account-mail-ip:{meta.ip}", per_ip, ip_window))
    if not rate_allow(*limits, now=clock.now()):
        raise AccountRefused(
            _(
                "メールの送信が続いたため、しばらく受け付けられません。1時間ほどしてからお試しください。"
            ),
            code="rate_limited",
        )
    known = address_has_signed(email)
    with transaction.atomic():
        audit_record(
            event="counterparty_account.link_request",
            actor_label=_label(email),
            detail={"sent": known},
            meta=meta,
        )
        if not known:
            return False
        now = clock.now()
        token = secrets.token_urlsafe(24)
        SignInLink.objects.create(
            email=email,
            token_hash=_hash(token),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.KEIYAKU_ACCOUNT_LINK_MINUTES),
        )
        transaction.on_commit(lambda: _mail_link(email, token))
    return True


def _mail_link(email: str, token: str) -> None:
    """Sent from the web process, as a password reset is: a lost one is asked for again."""
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string(
            "counterparty_accounts/mail/signin_link.txt",
            {
                "url": settings.PUBLIC_URL
                + reverse("counterparty_accounts:signin-link", args=[token]),
                "minutes": settings.KEIYAKU_ACCOUNT_LINK_MINUTES,
                "start_url": settings.PUBLIC_URL + reverse("counterparty_accounts:start"),
            },
        ).strip()
    subject, _sep, body = text.partition("\n")
    EmailMessage(
        subject=subject.strip(),
        body=body.strip() + "\n",
        to=[email],
        connection=mail_connection(organisation=None),
    ).send()


def signin_link_find(token: str) -> SignInLink | None:
    """The link behind a token, used or not, or None."""
    if not token or len(token) > 100:
        return None
    return SignInLink.objects.filter(token_hash=_hash(token)).first()


def _link_refusal(link: SignInLink | None) -> AccountRefused:
    if link is not None and link.used_at is not None:
        return AccountRefused(
            _(
                "このリンクは使用済みです。もう一度メールアドレスを入力して、新しいリンクを受け取ってください。"
            ),
            code="link_used",
        )
    if link is not None:
        return AccountRefused(
            _(
                "このリンクは有効期限が切れています。もう一度メールアドレスを入力して、新しいリンクを受け取ってください。"
            ),
            code="link_expired",
        )
    return AccountRefused(_("このリンクは使用できません。"), code="link_invalid")


def signin_link_check(token: str) -> SignInLink:
    """The link behind ``token`` while it can still be used; raises AccountRefused
    (``link_used``, ``link_expired``, ``link_invalid``) otherwise. Changes nothing."""
    link = signin_link_find(token)
    if link is None or link.used_at is not None or link.expires_at <= clock.now():
        raise _link_refusal(link)
    return link


@dataclass(frozen=True)
class SignIn:
    account: CounterpartyAccount
    created: bool
    """The link registered the account (its first use of the address)."""
    needs_totp: bool
    """The account has TOTP: the code step signs it in (`totp_signin`)."""


@transaction.atomic
def signin_link_use(*, token: str, meta: RequestMeta) -> SignIn:
    """Use a one-time link: once, before it expires (a conditional update, so two uses racing
    each other cannot both pass). Creates the account of its address on first use
    (registration). Without TOTP the account is signed in (`signin_complete` is recorded
    here); with TOTP the caller asks for the code next.

    Raises AccountRefused (``link_used``, ``link_expired``, ``link_invalid``).
    """
    now = clock.now()
    link = signin_link_find(token)
    if (
        link is None
        or SignInLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(
            used_at=now
        )
        != 1
    ):
        if link is not None:
            link.refresh_from_db()
        raise _link_refusal(link)
    account, created = CounterpartyAccount.objects.get_or_create(
        email=link.email, defaults={"created_at": now}
    )
    audit_record(
        event="counterparty_account.register" if created else "counterparty_account.link_used",
        actor_label=_label(account.email),
        subject=_subject(account),
        meta=meta,
    )
    if not account.has_totp:
        _signed_in(account, method="link", meta=meta)
    return SignIn(account=account, created=created, needs_totp=account.has_totp)


def _signed_in(account: CounterpartyAccount, *, method: str, meta: RequestMeta) -> None:
    CounterpartyAccount.objects.filter(pk=account.pk).update(last_signed_in_at=clock.now())
    audit_record(
        event="counterparty_account.signin",
        actor_label=_label(account.email),
        subject=_subject(account),
        detail={"method": method},
        meta=meta,
    )


# --- TOTP ------------------------------------------------------------------------------------


def _totp_limit(account: CounterpartyAccount) -> Limit:
    count, window = settings.KEIYAKU_RATE_ACCOUNT_TOTP
    return Limit(f"account-totp:{account.pk}", count, window)


def _wrong_code() -> AccountRefused:
    return AccountRefused(
        _("確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください。"),
        code="wrong_code",
    )


def _code_accepted(account: CounterpartyAccount, code: str, meta: RequestMeta) -> bool:
    """Check a code of an enrolled account under its row's lock; a step is never accepted
    twice. Failures are counted (KEIYAKU_RATE_ACCOUNT_TOTP) and audited; raises
    AccountRefused (``rate_limited``) past the limit."""
    if not rate_allow(_totp_limit(account), now=clock.now()):
        raise AccountRefused(
            _(
                "確認コードの入力が続いたため、しばらく受け付けられません。数分してからお試しください。"
            ),
            code="rate_limited",
        )
    with transaction.atomic():
        locked = CounterpartyAccount.objects.select_for_update().get(pk=account.pk)
        secret = crypto.open_text(locked.totp_secret_sealed, purpose=_TOTP_PURPOSE)
        step = totp.verify(
            secret, code or "", clock.now().timestamp(), after_step=locked.totp_last_step
        )
        if step is None:
            audit_record(
                event="counterparty_account.totp_failure",
                actor_label=_label(account.email),
                subject=_subject(account),
                meta=meta,
            )
            return False
        CounterpartyAccount.objects.filter(pk=account.pk).update(totp_last_step=step)
    return True


def totp_signin(*, account: CounterpartyAccount, code: str, meta: RequestMeta) -> None:
    """The second step after a one-time link, for an account with TOTP. Raises
    AccountRefused (``wrong_code``, ``rate_limited``)."""
    if not _code_accepted(account, code, meta):
        raise _wrong_code()
    with transaction.atomic():
        _signed_in(account, method="link+totp", meta=meta)


@transaction.atomic
def totp_enrol(*, account: CounterpartyAccount, secret: str, code: str, meta: RequestMeta) -> None:
    """Keep ``secret`` once the account proved its app has it (a current code), with the
    staff login's TOTP (keiyaku.login.totp, RFC 6238). Ends every other session of the
    account (``session_epoch``). Raises AccountRefused (``wrong_code``)."""
    now = clock.now()
    step = totp.verify(secret, code or "", now.timestamp())
    if step is None:
        raise _wrong_code()
    CounterpartyAccount.objects.filter(pk=account.pk).update(
        totp_secret_sealed=crypto.seal_text(secret, purpose=_TOTP_PURPOSE),
        totp_enrolled_at=now,
        totp_last_step=step,
        session_epoch=account.session_epoch + 1,
    )
    account.refresh_from_db()
    audit_record(
        event="counterparty_account.totp_enrol",
        actor_label=_label(account.email),
        subject=_subject(account),
        meta=meta,
    )


def totp_remove(*, account: CounterpartyAccount, code: str, meta: RequestMeta) -> None:
    """Remove the account's TOTP, proven with a current code (so that a session left open
    cannot turn it off). Raises AccountRefused (``wrong_code``, ``rate_limited``,
    ``totp_not_enrolled``)."""
    if not account.has_totp:
        raise AccountRefused(_("2段階認証は設定されていません。"), code="totp_not_enrolled")
    if not _code_accepted(account, code, meta):
        raise _wrong_code()
    with transaction.atomic():
        CounterpartyAccount.objects.filter(pk=account.pk).update(
            totp_secret_sealed="",
            totp_enrolled_at=None,
            totp_last_step=None,
            session_epoch=account.session_epoch + 1,
        )
        account.refresh_from_db()
        audit_record(
            event="counterparty_account.totp_remove",
            actor_label=_label(account.email),
            subject=_subject(account),
            meta=meta,
        )


# --- downloads -------------------------------------------------------------------------------


def account_download_record(
    *, account: CounterpartyAccount, what: str, contract_id: str, filename: str, meta: RequestMeta
) -> None:
    """Audit a download from the account (R39) under the account, not the contract: the
    contract page's history reads its entries by subject, and the organisation sees nothing
    of the account (R3)."""
    audit_record(
        event=what,
        actor_label=_label(account.email),
        subject=_subject(account),
        detail={"filename": filename, "contract": contract_id, "via": "counterparty_account"},
        meta=meta,
    )
