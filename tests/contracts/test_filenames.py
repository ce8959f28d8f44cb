"""clean_filename: the user's file name, NFC, with nothing removed but what cannot be shown."""

from __future__ import annotations

import pytest

from keiyaku.contracts.filenames import clean_filename


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("工事　請負　契約書　か\u3099.pdf", "工事　請負　契約書　が.pdf"),
        ("ﾃﾞｰﾀ ①㈱ 髙橋 (copy) #1 &amp; 50%.pdf", "ﾃﾞｰﾀ ①㈱ 髙橋 (copy) #1 &amp; 50%.pdf"),
        ("C:\\Users\\髙橋\\契約書.pdf", "契約書.pdf"),
        ("../../etc/契約書.pdf", "契約書.pdf"),
        ("契約\x00書\r\n\x7f\x85\u2028.pdf", "契約書.pdf"),
        ("契約書\u202efdp.exe", "契約書fdp.exe"),
        ("👨\u200d👩\u200d👧.pdf", "👨\u200d👩\u200d👧.pdf"),
        ("..", ""),
        ("", ""),
    ],
)
def test_names_are_kept_but_for_paths_and_controls(given: str, kept: str) -> None:
    assert clean_filename(given) == kept


def test_a_long_name_is_cut_by_characters_keeping_the_extension() -> None:
    name = clean_filename("契" * 300 + ".pdf")
    assert len(name) == 255 and name.endswith("契.pdf")
