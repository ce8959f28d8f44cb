"""Who is signed in to a counterparty account, kept apart from the staff login.

The account lives under its own session keys; Django's authentication (``_auth_user_id``,
`request.user`) is the staff login's alone and is never read or written here. So a staff
member signed in is no account, and an account signed in is no staff member: each side's pages
read only their own keys. Signing out of the account forgets only its keys; the staff logout
flushes the whole session, the account with it. Idle for KEIYAKU_SESSION_IDLE_MINUTES, or
older than the account's ``session_epoch`` (TOTP set up or removed since), the account is
signed out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from keiyaku.counterparty_accounts.models import CounterpartyAccount
from keiyaku.login import clock

ACCOUNT_KEY = "counterparty_account"
PENDING_KEY = "counterparty_account.pending"
_SEEN_RESOLUTION = 30


def account_sign_in(request: HttpRequest, account: CounterpartyAccount) -> None:
    """Remember ``account`` in this browser's session, under a new session key."""
    request.session.pop(PENDING_KEY, None)
    request.session.cycle_key()
    request.session[ACCOUNT_KEY] = {
        "id": account.pk,
        "epoch": account.session_epoch,
        "seen": int(clock.now().timestamp()),
    }


def account_pending(request: HttpRequest, account: CounterpartyAccount) -> None:
    """The one-time link was used and the TOTP code is asked next (KEIYAKU_LOGIN_PENDING_SECONDS)."""
    request.session.pop(ACCOUNT_KEY, None)
    request.session[PENDING_KEY] = {"id": account.pk, "at": int(clock.now().timestamp())}


def pending_account(request: HttpRequest) -> CounterpartyAccount | None:
    """The account waiting for its TOTP code in this session, or None (none, or too late)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if clock.now().timestamp() - pending.get("at", 0) > settings.KEIYAKU_LOGIN_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    return CounterpartyAccount.objects.filter(pk=int(pending.get("id") or 0)).first()


def account_sign_out(request: HttpRequest) -> None:
    """Forget the account (and a pending sign-in); a staff login in the same browser stays."""
    request.session.pop(ACCOUNT_KEY, None)
    request.session.pop(PENDING_KEY, None)
    request.session.cycle_key()


def current_account(request: HttpRequest) -> CounterpartyAccount | None:
    """The account this session is signed in to, or None: never signed in, idle too long, or
    signed in before the account's TOTP changed."""
    held = request.session.get(ACCOUNT_KEY)
    if not isinstance(held, dict):
        return None
    now = int(clock.now().timestamp())
    seen = held.get("seen", 0)
    if now - seen > settings.KEIYAKU_SESSION_IDLE_MINUTES * 60:
        account_sign_out(request)
        return None
    account = CounterpartyAccount.objects.filter(pk=int(held.get("id") or 0)).first()
    if account is None or account.session_epoch != held.get("epoch"):
        account_sign_out(request)
        return None
    if now - seen >= _SEEN_RESOLUTION:
        request.session[ACCOUNT_KEY] = held | {"seen": now}
    return account


def account_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view runs with ``request.counterparty_account``; anyone else goes to the account's
    start page (a staff login does not count)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = current_account(request)
        if account is None:
            return redirect("counterparty_accounts:start")
        request.counterparty_account = account  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped
