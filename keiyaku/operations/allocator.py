"""The C allocator of a keiyaku process that handles large files (issue 12).

glibc's malloc serves a request of at least its mmap threshold with a mapping of its own,
given back to the system when freed; smaller ones come from its heaps ("arenas", one per
thread in use), whose free memory stays in the process. By default the threshold moves: each
time a mapped block is freed it rises to that block's size, up to 32 MB. After one page image
(a 24 MB bitmap) or one chunked read, every buffer below that size went to the arenas, where a
web worker's four threads left them scattered, and the process's resident memory grew with
each large contract (issue 12: 136 → 304 MB after four 50 MB contracts; 120 → 218 MB with the
threshold fixed, most of it the bounded page-image cache filling).

`allocator_configure` fixes the threshold (which also stops it moving) for the web workers
(`keiyaku.wsgi`) and every `keiyaku` command, the queue consumer included (`keiyaku.cli`).
"""

from __future__ import annotations

import ctypes
import ctypes.util

MMAP_THRESHOLD_BYTES = 256 * 1024
"""Blocks of at least this many bytes get a mapping of their own (glibc's default start)."""
_M_MMAP_THRESHOLD = -3  # malloc.h


def allocator_configure() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD_BYTES in this process. True when set;
    False where the C library is not glibc (musl, macOS), which is left as it is."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
