"""The name a user gave a file, kept as given for display and download."""

from __future__ import annotations

import os
import unicodedata

MAX_LENGTH = 255
# Control characters (C0, DEL, C1) and line/paragraph separators; never in a name on screen.
_DROPPED_CATEGORIES = {"Cc", "Zl", "Zp"}
# Bidirectional controls: they can make a name read differently from what it is
# ("契約書\u202efdp.exe"). Other format characters (ZWJ in emoji) stay.
_BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_filename(name: str) -> str:
    """``name`` NFC-normalised, without any directory part, control character or bidirectional
    control, at most 255 characters (the extension kept). Everything else stays: full-width
    spaces, kana with combining marks (composed by NFC), symbols. May return ``""``."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        c
        for c in name
        if unicodedata.category(c) not in _DROPPED_CATEGORIES and c not in _BIDI_CONTROLS
    )
    if name in {".", ".."}:
        return ""
    if len(name) > MAX_LENGTH:
        stem, ext = os.path.splitext(name)
        ext = ext[:16] if len(ext) <= 16 else ""
        name = stem[: MAX_LENGTH - len(ext)] + ext
    return name
