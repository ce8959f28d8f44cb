"""`keiyaku run` (what `make run` starts): migrate, seed the demo organisation, print its logins
and the root certificate to trust, then `keiyaku serve`.

Quiet by default (issue 14): the web server, the worker and keiyaku log warnings and errors
only, so what the terminal shows is the logins, the root certificate's URL and the address.
``--verbose`` (``make run VERBOSE=1``) logs at INFO: migrations, gunicorn's and Huey's start-up
lines, one access line per request. An explicit ``KEIYAKU_LOG_LEVEL`` wins over both.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.urls import reverse

from keiyaku.pki.service import get_authority

QUIET_LEVEL = "WARNING"
VERBOSE_LEVEL = "INFO"
# The loggers settings.LOGGING gives the level of KEIYAKU_LOG_LEVEL.
LEVELLED_LOGGERS = ("", "huey")


def log_level(*, verbose: bool, environ: Mapping[str, str]) -> str:
    """The level `keiyaku run` logs at: ``KEIYAKU_LOG_LEVEL`` when given, else INFO with
    ``--verbose`` and WARNING without (issue 14: quiet by default)."""
    return environ.get("KEIYAKU_LOG_LEVEL") or (VERBOSE_LEVEL if verbose else QUIET_LEVEL)


def root_certificate(addr: str) -> tuple[str, str]:
    """(URL, fingerprint) of keiyaku's own root: its PEM download, as the public "about trust"
    page (/trust/) offers it, at the address ``addr`` ("host:port") serve listens on, and its
    SHA-256 as Acrobat shows it (upper-case hex pairs joined by colons). Creates the local
    authority on a fresh data folder (serve would create it a moment later)."""
    digest = get_authority().root_cert.sha256.hex()
    pairs = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()
    return f"http://{addr}{reverse('trust-root-pem', args=[digest])}", pairs


class Command(BaseCommand):
    help = (
        "Migrate, create the demo organisation, print its logins and the root certificate to "
        "trust, and serve (make run). Quiet unless --verbose."
    )
    requires_system_checks: list[str] = []  # serve checks, after taking its lock

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to listen on")
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="log at INFO: migrations, web server and worker start-up, every request",
        )

    def handle(self, *args, addr: str, verbose: bool, **options):
        level = log_level(verbose=verbose, environ=os.environ)
        # The web server and the worker read it when they start (settings.LOGGING,
        # gunicorn_config); this process configured its logging already.
        os.environ["KEIYAKU_LOG_LEVEL"] = level
        for name in LEVELLED_LOGGERS:
            logging.getLogger(name).setLevel(level)
        call_command("migrate", interactive=False, verbosity=1 if verbose else 0)
        call_command("seed_demo")
        url, fingerprint = root_certificate(addr)
        self.stdout.write(
            "Signed PDFs verify in Acrobat once it trusts keiyaku's root certificate "
            '(docs/trust.md, "Acrobat with keiyaku\'s own root"):\n'
            f"  {url}\n  SHA-256 {fingerprint}"
        )
        self.stdout.flush()
        call_command("serve", addr=addr, verbosity=options["verbosity"])
