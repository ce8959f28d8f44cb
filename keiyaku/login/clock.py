"""The sign-in clock: lockout delays, TOTP steps and idle timeouts read the time here.

Tests move it forward (monkeypatch `now`) instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
