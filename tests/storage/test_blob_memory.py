"""Issue 12: a stored file is sealed and opened in chunks, never held twice.

Measured in a fresh process (`tests.peak_memory`: the kernel's high-water mark, reset first) on
a 40 MB file: before, `blob_put` held the ciphertext and then nonce + ciphertext beside the
file (2x its size) and `blob_get` the sealed object beside the plaintext (2x).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keiyaku.storage.blobs import keyring_create
from tests.process_environment import on_test_database

_ROOT = Path(__file__).resolve().parents[2]
_PROBE = """
import json, os, sys
import django
django.setup()
from keiyaku.storage.blobs import blob_get, blob_put
from keiyaku.storage.models import KeyRing
from tests.peak_memory import peak_reset, peak_rise
ring = KeyRing.objects.get(pk=sys.argv[1])
blob_put(keyring=ring, data=b"warm-up")  # imports, the storage client, the data key
data = os.urandom(int(sys.argv[2]))
start = peak_reset()
blob = blob_put(keyring=ring, data=data)
put = peak_rise(start)
start = peak_reset()
got = blob_get(blob)
get = peak_rise(start)
print(json.dumps({"put": put, "get": get, "same": got == data}))
"""
SIZE = 40 * 1024 * 1024


@pytest.mark.slow(seconds=5)
@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_sealed_without_a_copy_and_opened_into_one():
    ring = keyring_create()
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _PROBE, str(ring.pk), str(SIZE)],
        capture_output=True,
        text=True,
        check=True,
        cwd=_ROOT,
        env=on_test_database(),
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["same"]
    # Sealing: chunks only. Opening: the plaintext once, plus chunks.
    assert figures["put"] < 0.25 * SIZE, figures
    assert figures["get"] < 1.25 * SIZE, figures
