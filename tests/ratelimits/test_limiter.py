"""The one rate limiter: a limit per key and window, all or nothing, counted in the database or,
with KEIYAKU_REDIS_URL, in Redis (a private redis-server): every test runs on both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from keiyaku.ratelimits.limiter import Limit, rate_allow, rate_count
from keiyaku.ratelimits.models import RateCounter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["database", "redis"])
def store(request, settings) -> str:
    """Where the counters live: the database (no Redis configured) or a real Redis."""
    if request.param == "redis":
        settings.KEIYAKU_REDIS_URL = request.getfixturevalue("redis_url")
    else:
        settings.KEIYAKU_REDIS_URL = ""
    return request.param


def test_the_attempt_past_the_limit_is_refused_until_the_window_ends():
    now = timezone.now()
    limit = Limit("test:198.51.100.1", limit=3, window=60)
    assert [rate_allow(limit, now=now) for _ in range(4)] == [True, True, True, False]
    assert rate_allow(limit, now=now + timedelta(seconds=59)) is False
    # The window started at the first attempt; the next one starts afresh.
    assert rate_allow(limit, now=now + timedelta(seconds=60)) is True
    assert rate_count(limit.key, now=now + timedelta(seconds=60)) == 1


def test_refused_attempts_are_not_counted():
    now = timezone.now()
    limit = Limit("test:a", limit=2, window=60)
    for _ in range(5):
        rate_allow(limit, now=now)
    assert rate_count("test:a", now=now) == 2


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
    assert rate_count("ip:x", now=now) == 1  # ...so the address is not counted


def test_expired_counters_are_swept_when_a_new_key_comes(store, redis_server):
    now = timezone.now()
    rate_allow(Limit("test:old", 1, 60), now=now)
    rate_allow(Limit("test:new", 1, 60), now=now + timedelta(minutes=5))
    if store == "database":
        assert list(RateCounter.objects.values_list("key", flat=True)) == ["test:new"]
    else:
        # Nothing in the database; Redis forgets each key a minute after its window.
        assert not RateCounter.objects.exists()
        ttl = redis_server.client().pttl("keiyaku:rate:test:old")
        assert 60_000 < ttl <= 120_000


def test_a_zero_limit_refuses_everything():
    assert not rate_allow(Limit("test:none", 0, 60))
