"""Every validation runs in a child process under a time and a memory budget (issue 10,
finding 7): an over-budget validation is stopped, and each caller says so clearly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest

from keiyaku.signing import budget
from keiyaku.signing.ingest import _save
from keiyaku.signing.ingest_proof import _sign_scratch_copy
from keiyaku.signing.verification import BudgetExceeded, verify_pdf
from tests.pdf_corpus import forms
from tests.process_environment import on_test_database
from tests.signing.budget_children import (
    NeedsADetail,
    allocate,
    fail,
    fail_with_a_detail,
    sleep_then_write_pid,
)


def test_the_result_and_the_exceptions_of_the_child_come_back() -> None:
    limits = budget.Limits(seconds=30, memory_mb=1024)
    assert budget.run(allocate, 16, limits=limits) == 16 * 1024 * 1024
    with pytest.raises(ValueError, match="from the child"):
        budget.run(fail, limits=limits)


def test_an_exception_whose_constructor_wants_more_comes_back_as_itself() -> None:
    """Its class, message and attributes, not the TypeError unpickling it would raise."""
    with pytest.raises(NeedsADetail, match="from the child") as raised:
        budget.run(fail_with_a_detail, limits=budget.Limits(seconds=30, memory_mb=512))
    assert raised.value.detail == {"depth": 3}
    assert raised.value.code == "E1"


def test_a_child_past_its_deadline_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as exceeded:
        budget.run(
            sleep_then_write_pid, str(marker), limits=budget.Limits(seconds=2, memory_mb=1024)
        )
    assert exceeded.value.what == "time"
    assert time.monotonic() - started < 10
    assert "KEIYAKU_VALIDATION_SECONDS" in str(exceeded.value)
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_child_past_its_memory_is_stopped() -> None:
    with pytest.raises(BudgetExceeded) as exceeded:
        budget.run(allocate, 2048, limits=budget.Limits(seconds=30, memory_mb=768))
    assert exceeded.value.what == "memory"
    assert "KEIYAKU_VALIDATION_MEMORY_MB" in str(exceeded.value)


def _signed_chain() -> bytes:
    """A two-signature file over 22 chained form XObjects: its validation takes hours."""
    with pikepdf.open(__import__("io").BytesIO(forms.chained_form_xobjects())) as pdf:
        return _sign_scratch_copy(_save(pdf))


@pytest.fixture(scope="module")
def signed_chain() -> bytes:
    return _signed_chain()


@pytest.mark.django_db
def test_verifying_a_file_built_to_run_for_ever_stops_at_the_budget(settings, signed_chain):
    settings.KEIYAKU_VALIDATION_SECONDS = 3
    assert verify_pdf(b"%PDF-1.7 not really").error  # the authority exists, the server runs
    started = time.monotonic()
    with pytest.raises(BudgetExceeded):
        verify_pdf(signed_chain)
    assert time.monotonic() - started < 15


@pytest.mark.django_db(transaction=True)
def test_keiyaku_verify_exits_non_zero_naming_the_budget(tmp_path, signed_chain):
    path = tmp_path / "chain.pdf"
    path.write_bytes(signed_chain)
    env = on_test_database(KEIYAKU_VALIDATION_SECONDS="3")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "keiyaku.cli", "verify", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert "KEIYAKU_VALIDATION_SECONDS" in result.stderr
    assert "RESULT: over_budget" in result.stdout


@pytest.mark.django_db
def test_the_verification_page_answers_in_japanese(client, settings, signed_chain):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.KEIYAKU_VALIDATION_SECONDS = 3
    assert verify_pdf(b"%PDF-1.7 not really").error  # the authority exists, the server runs
    started = time.monotonic()
    response = client.post(
        "/verify/",
        {"file": SimpleUploadedFile("chain.pdf", signed_chain, "application/pdf")},
    )
    assert time.monotonic() - started < 20
    assert response.status_code == 400
    assert "制限時間（3秒）内に終わらなかった" in response.content.decode()
