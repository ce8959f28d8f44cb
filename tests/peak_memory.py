"""Peak resident memory of a stretch of code, from the kernel (Linux).

``resource.getrusage(...).ru_maxrss`` is no use in a process started by a large one: Linux
carries the parent's peak over into the child. The high-water mark in /proc/self/status
(VmHWM) can be reset instead (``clear_refs`` 5), so the rise of a stretch is measured alone.
"""

from __future__ import annotations

from pathlib import Path


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def peak_reset() -> int:
    """Reset the high-water mark to the memory in use now; that memory (bytes)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") * 1024


def peak_rise(start: int) -> int:
    """How far the peak rose above ``start`` (bytes, from `peak_reset`) since the reset."""
    return max(0, _status_kb("VmHWM") * 1024 - start)
