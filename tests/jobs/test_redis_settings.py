"""KEIYAKU_REDIS_URL: the queue on Redis and Django's cache there, shared between processes; a
bad URL stops keiyaku at start with a message that says what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
        "PYTHONPATH": str(ROOT),
        **environment,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


_SHOW = (
    "import django; django.setup(); from django.conf import settings; "
    "from huey.contrib.djhuey import HUEY; "
    "print(type(HUEY).__name__, settings.CACHES['default']['BACKEND'])"
)


def test_without_redis_the_queue_is_the_sqlite_file(tmp_path):
    done = _python(_SHOW, KEIYAKU_DATA_DIR=str(tmp_path), KEIYAKU_REDIS_URL="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["SqliteHuey", "django.core.cache.backends.locmem.LocMemCache"]


def test_with_redis_the_queue_and_the_cache_are_there(tmp_path, redis_url):
    done = _python(_SHOW, KEIYAKU_DATA_DIR=str(tmp_path), KEIYAKU_REDIS_URL=redis_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["RedisHuey", "django.core.cache.backends.redis.RedisCache"]


def test_the_cache_is_shared_between_processes(tmp_path, redis_url):
    setup = "import django; django.setup(); from django.core.cache import cache; "
    env = {"KEIYAKU_DATA_DIR": str(tmp_path), "KEIYAKU_REDIS_URL": redis_url}
    assert _python(setup + "cache.set('shared', 'from the first', 60)", **env).returncode == 0
    second = _python(setup + "print(cache.get('shared'))", **env)
    assert second.stdout.strip() == "from the first", second.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:6379/0", "redis://, rediss://, unix://"),
        ("127.0.0.1:6379", "redis://, rediss://, unix://"),
        ("redis://127.0.0.1:port/0", "Port could not be cast"),
        ("redis://127.0.0.1:6379/zero", "'zero' is not a number"),
        # isdigit() takes 「²」, which redis-py then ignores (database 0 without a word).
        ("redis://127.0.0.1:6379/²", "'²' is not a number"),
        ("unix://", "no host and no socket path"),
    ],
)
def test_a_bad_redis_url_is_refused_at_start(tmp_path, url, says):
    done = _python("import keiyaku.settings", KEIYAKU_DATA_DIR=str(tmp_path), KEIYAKU_REDIS_URL=url)
    assert done.returncode != 0
    assert (
        "ImproperlyConfigured: KEIYAKU_REDIS_URL must look like redis://host:6379/0" in done.stderr
    )
    assert says in done.stderr
