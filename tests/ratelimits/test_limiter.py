"""The one rate limiter: a limit per key and window, all or nothing, counted in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from keiyaku.ratelimits.limiter import Limit, rate_allow
from keiyaku.ratelimits.models import RateCounter

pytestmark = pytest.mark.django_db


def test_the_attempt_past_the_limit_is_refused_until_the_window_ends():
    now = timezone.now()
    limit = Limit("test:198.51.100.1", limit=3, window=60)
    assert [rate_allow(limit, now=now) for _ in range(4)] == [True, True, True, False]
    assert rate_allow(limit, now=now + timedelta(seconds=59)) is False
    # The window started at the first attempt; the next one starts afresh.
    assert rate_allow(limit, now=now + timedelta(seconds=60)) is True
    assert RateCounter.objects.get(key=limit.key).count == 1


def test_refused_attempts_are_not_counted():
    now = timezone.now()
    limit = Limit("test:a", limit=2, window=60)
    for _ in range(5):
        rate_allow(limit, now=now)
    assert RateCounter.objects.get(key="test:a").count == 2


def test_keys_are_counted_apart():
    now = timezone.now()
    assert rate_allow(Limit("test:a", 1, 60), now=now)
    assert not rate_allow(Limit("test:a", 1, 60), now=now)
    assert rate_allow(Limit("test:b", 1, 60), now=now)


def test_several_limits_count_all_or_nothing():
    now = timezone.now()
    address, login = Limit("ip:x", 10, 60), Limit("id:y", 1, 60)
    assert rate_allow(address, login, now=now)
    assert not rate_allow(address, login, now=now)  # the login ID is used up...
    assert RateCounter.objects.get(key="ip:x").count == 1  # ...so the address is not counted


def test_expired_counters_are_swept_when_a_new_key_comes():
    now = timezone.now()
    rate_allow(Limit("test:old", 1, 60), now=now)
    rate_allow(Limit("test:new", 1, 60), now=now + timedelta(minutes=5))
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["test:new"]


def test_a_zero_limit_refuses_everything():
    assert not rate_allow(Limit("test:none", 0, 60))
