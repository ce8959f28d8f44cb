"""Configuration checked at start: `keiyaku check --deploy` passes on the production example of
docs/operations.md, and names each thing wrong with a clear error."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

from keiyaku.accounts.services import organisation_create
from keiyaku.operations import checks

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operations.md"
# Settings that name a server the test does not run (their own helpers test those back ends):
# the checks here read no connection but the database, which stays SQLite in a temporary folder.
# The signing key (a PKCS#12 file, an HSM) is left out too: tests/signing/test_hsm.py checks it.
SERVERS = (
    "KEIYAKU_DATABASE_URL",
    "KEIYAKU_REDIS_URL",
    "KEIYAKU_STORAGE_URL",
    "KEIYAKU_S3_",
    "KEIYAKU_SIGNER_",
)


def documented_environment() -> dict[str, str]:
    """The example environment file of the operator guide, its placeholders filled in."""
    text = GUIDE.read_text()
    block = re.search(r"<!-- production\.env -->\n```sh\n(.*?)```", text, re.S)
    assert block, "the operator guide lost its production environment example"
    env: dict[str, str] = {}
    for line in block.group(1).splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        env[name] = value.replace(checks.PLACEHOLDER, secrets.token_urlsafe(48))
    return env


def run_check(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # Not the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE either (async.E001 under --deploy), set in
    # this process when they ran before in it.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEIYAKU_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env = {k: v for k, v in env.items() if not k.startswith(SERVERS)}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "keiyaku.cli", "check", *args],
        env={
            **base,
            **env,
            "KEIYAKU_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "keiyaku.settings",
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_documented_production_settings_pass_the_deploy_checks(tmp_path):
    env = documented_environment()
    migrated = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "keiyaku.cli", "migrate", "--noinput", "-v0"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(SERVERS)},
            "KEIYAKU_DATA_DIR": str(tmp_path),
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrated.returncode == 0, migrated.stderr
    done = run_check(tmp_path, env, "--deploy", "--database", "default", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@pytest.mark.slow
def test_the_embedded_defaults_fail_the_deploy_checks_with_what_to_set(tmp_path):
    done = run_check(tmp_path, {}, "--deploy")
    assert done.returncode != 0
    for expected in ("E101", "E102", "E103", "E104", "E108"):
        assert f"keiyaku.{expected}" in done.stderr, expected
    assert "KEIYAKU_MASTER_KEY is not set" in done.stderr
    assert "HINT: Set KEIYAKU_PUBLIC_URL" in done.stderr or "KEIYAKU_PUBLIC_URL" in done.stderr


@pytest.mark.slow
def test_a_placeholder_left_in_the_environment_is_refused(tmp_path):
    env = {**documented_environment(), "KEIYAKU_MASTER_KEY": checks.PLACEHOLDER}
    done = run_check(tmp_path, env, "--deploy")
    assert "keiyaku.E110" in done.stderr and "KEIYAKU_MASTER_KEY" in done.stderr


def test_a_placeholder_among_the_previous_master_keys_is_refused(tmp_path):
    env = {**documented_environment(), "KEIYAKU_MASTER_KEY_PREVIOUS": checks.PLACEHOLDER}
    done = run_check(tmp_path, env, "--deploy")
    assert "keiyaku.E110" in done.stderr
    assert "KEIYAKU_MASTER_KEY_PREVIOUS is still the example's placeholder" in done.stderr


@pytest.fixture
def production(settings):
    """In-process: the documented production values (each test then breaks one)."""
    settings.KEIYAKU_ENV = "production"
    settings.DEBUG = False
    settings.KEIYAKU_GENERATED_SECRETS = []
    settings.PUBLIC_URL = "https://keiyaku.city.example.lg.jp"
    settings.ALLOWED_HOSTS = ["keiyaku.city.example.lg.jp"]
    settings.DEFAULT_FROM_EMAIL = "keiyaku <no-reply@city.example.lg.jp>"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.KEIYAKU_MAIL_CAPTURE = "trial"
    return settings


def ids(**kwargs) -> set[str]:
    return {
        issue.id
        for issue in run_checks(include_deployment_checks=True, **kwargs)
        if issue.id and issue.id.startswith("keiyaku.")
    }


def test_production_settings_raise_no_keiyaku_error(production):
    assert ids() == set()


def test_debug_in_production_is_an_error_even_without_deploy(production):
    production.DEBUG = True
    assert "keiyaku.E001" in {i.id for i in run_checks()}


def test_a_plain_http_public_url_is_an_error(production):
    production.PUBLIC_URL = "http://keiyaku.city.example.lg.jp"
    assert ids() == {"keiyaku.E104"}


def test_a_public_url_on_this_machine_is_an_error(production):
    production.PUBLIC_URL = "https://127.0.0.1"
    production.ALLOWED_HOSTS = ["127.0.0.1"]
    assert ids() == {"keiyaku.E105"}


def test_allowed_hosts_not_matching_the_public_url_is_an_error(production):
    production.ALLOWED_HOSTS = ["keiyaku.other.example.lg.jp"]
    assert ids() == {"keiyaku.E107"}
    production.ALLOWED_HOSTS = [".city.example.lg.jp"]  # Django's subdomain pattern matches
    assert ids() == set()


def test_allowed_hosts_star_is_an_error(production):
    production.ALLOWED_HOSTS = ["*"]
    assert ids() == {"keiyaku.E106"}


def test_generated_secrets_are_errors(production):
    production.KEIYAKU_GENERATED_SECRETS = ["SECRET_KEY", "MASTER_KEY"]
    assert ids() == {"keiyaku.E102", "keiyaku.E103"}


def test_the_built_in_sender_address_is_an_error(production):
    production.DEFAULT_FROM_EMAIL = "keiyaku <no-reply@keiyaku.localhost>"
    assert ids() == {"keiyaku.E108"}


def test_not_production_is_an_error_of_the_deploy_checks(production):
    production.KEIYAKU_ENV = "embedded"
    assert ids() == {"keiyaku.E101"}


@pytest.mark.django_db
def test_a_real_organisation_without_smtp_is_an_error(production):
    organisation_create(name="練習町", slug="practice-town", is_trial=True)
    production.EMAIL_BACKEND = "keiyaku.notifications.mailbox.CaptureBackend"
    assert ids(databases=["default"]) == set()  # trial organisations only: captured on purpose

    organisation_create(name="本番市", slug="real-city")
    assert ids(databases=["default"]) == {"keiyaku.E109"}
    assert ids() == set()  # reads the database only when asked to (--database default)

    production.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert ids(databases=["default"]) == set()
    production.KEIYAKU_MAIL_CAPTURE = "all"  # a relay, but everybody's mail captured
    assert ids(databases=["default"]) == {"keiyaku.E109"}


@pytest.mark.slow
def test_serve_in_production_refuses_to_start_on_a_deploy_error(tmp_path):
    """KEIYAKU_ENV=production: serve runs the deploy checks before starting anything."""
    env = {k: v for k, v in documented_environment().items() if not k.startswith(SERVERS)}
    env["KEIYAKU_PUBLIC_URL"] = "http://keiyaku.city.example.lg.jp"  # no TLS
    # Not the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE either (async.E001 under --deploy), set in
    # this process when they ran before in it.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEIYAKU_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "keiyaku.cli", "serve", "--addr", "127.0.0.1:0"],
        env={**base, **env, "KEIYAKU_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "keiyaku.E104" in done.stderr and "KEIYAKU_PUBLIC_URL" in done.stderr
    assert "gunicorn" not in done.stderr and "worker pid" not in done.stdout
