"""Rate limit of the login endpoints, per client address and per login ID (a setting).

Counted in the database so that every web process sees the same attempts.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from keiyaku.signin import clock
from keiyaku.signin.models import LoginAttempt


def login_rate_exceeded(*, ip: str | None, login_id: str = "") -> bool:
    """Record this attempt; True when the address or the login ID is over its limit."""
    now = clock.now()
    since = now - timedelta(seconds=settings.KEIYAKU_LOGIN_RATE_WINDOW_SECONDS)
    LoginAttempt.objects.filter(created_at__lt=since).delete()
    login_id = login_id.strip()[:150]
    over = False
    if ip and (
        LoginAttempt.objects.filter(ip=ip, created_at__gte=since).count()
        >= settings.KEIYAKU_LOGIN_RATE_PER_IP
    ):
        over = True
    if login_id and (
        LoginAttempt.objects.filter(login_id=login_id, created_at__gte=since).count()
        >= settings.KEIYAKU_LOGIN_RATE_PER_LOGIN_ID
    ):
        over = True
    if not over:
        LoginAttempt.objects.create(ip=ip, login_id=login_id, created_at=now)
    return over
