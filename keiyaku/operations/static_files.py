"""`collectstatic` when the static sources changed since the last run (keiyaku serve)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command

STAMP = ".keiyaku-collected"
MANIFEST = "staticfiles.json"  # written by the manifest storage


def sources_fingerprint() -> str:
    """SHA-256 over every static source's name, size and modification time, and the storage
    back end (a new back end must collect again)."""
    digest = hashlib.sha256(settings.STORAGES["staticfiles"]["BACKEND"].encode())
    for finder in get_finders():
        for path, storage in finder.list(ignore_patterns=None):
            stat = Path(storage.path(path)).stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collect_static_if_needed() -> bool:
    """Run `collectstatic` into STATIC_ROOT unless the last run saw the same sources and left
    its manifest; True when it ran. Seconds the first time (every file is hashed and
    compressed), a few milliseconds after."""
    root = Path(settings.STATIC_ROOT)
    stamp = root / STAMP
    fingerprint = sources_fingerprint()
    if (root / MANIFEST).exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)
    return True
