"""keiyaku's own settings (keiyaku/settings.py, read from the KEIYAKU_* environment) for the
cluster's processes, with one change: passwords and access codes are hashed with a fast hasher,
as in the rest of the suite (tests/settings.py) and in the benchmarks (bench/production.py).

PBKDF2 at Django's work factor costs about 1 s of CPU a code; a three-party contract hashes and
checks three codes, and with 100 contracts that was half of the cluster's CPU (a py-spy profile
of the scale-out test: 51 % of its samples in ``pbkdf2``). What the cluster tests prove is
concurrency and crash safety, not hashing. The staff the tests create (hashed by the test
settings' same hasher) sign in as they are.
"""

from keiyaku.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
