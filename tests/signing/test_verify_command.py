"""`keiyaku verify FILE.pdf [--json]`: the same verdict as the public page, and its exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keiyaku.signing.keys import get_timestamper
from tests.flow import External, completed_pdf, keiyaku_verify
from tests.pdfs import annotated_later, document_timestamped, make_pdf

pytestmark = pytest.mark.django_db(transaction=True)

SIGNERS = [External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")]


def _run(path: Path, *args: str) -> tuple[int, str]:
    verified = keiyaku_verify(path, *args)
    return verified.returncode, verified.stdout


@pytest.fixture
def final_pdf(personas) -> bytes:
    return completed_pdf(personas, SIGNERS)


def test_a_completed_contract_is_signed_by_this_keiyaku(final_pdf, tmp_path):
    path = tmp_path / "final.pdf"
    path.write_bytes(final_pdf)
    code, out = _run(path, "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["verdict"], report["parties"], report["ok"], report["ltv_ok"]) == (
        "concluded",
        2,
        True,
        True,
    )
    assert [s["status"] for s in report["signatures"]] == ["valid"] * 3
    code, text = _run(path)
    assert code == 0
    assert "RESULT: concluded: signed by this keiyaku service for 2 parties" in text
    assert "LTV (B-LTA): OK" in text


def test_a_timestamp_alone_is_not_a_contract(db, tmp_path):
    path = tmp_path / "stamped.pdf"
    path.write_bytes(document_timestamped(make_pdf(), timestamper=get_timestamper()))
    code, out = _run(path, "--json")
    report = json.loads(out)
    assert code == 1
    assert (report["verdict"], report["parties"], report["ok"], report["ltv_ok"]) == (
        "timestamp_only",
        0,
        False,
        False,
    )
    assert [s["status"] for s in report["signatures"]] == ["intact"]
    code, text = _run(path)
    assert "RESULT: timestamp_only: not a contract concluded on keiyaku" in text
    assert "[OK]" not in text and "LTV (B-LTA): NG" in text


def test_a_later_change_fails_without_a_good_long_term_line(final_pdf, tmp_path):
    path = tmp_path / "changed.pdf"
    path.write_bytes(annotated_later(final_pdf))
    code, out = _run(path, "--json")
    report = json.loads(out)
    assert code == 1
    assert (report["verdict"], report["ok"], report["ltv_ok"]) == ("failed", False, False)
    assert "valid" not in [s["status"] for s in report["signatures"]]
    code, text = _run(path)
    assert "RESULT: failed" in text
    assert "[OK]" not in text and "LTV (B-LTA): NG" in text
    assert "LTV:           OK" not in text
