"""Start the web server and the background worker together (the embedded set-up).

One serve per data folder: it holds ``DATA_DIR/serve.lock`` (shared with its worker) and its
worker ends when it does, even when serve is killed hard (keiyaku.process_lifetime).
"""

import os
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from keiyaku.pki.service import get_authority
from keiyaku.process_lifetime import PARENT_ENV, AlreadyRunning, lock_hold


class Command(BaseCommand):
    help = "Run the web server and a Huey worker; stop both with Ctrl+C."
    # runserver runs the system checks; the lock comes first, so a second serve stops at once.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options):
        path = settings.DATA_DIR / "serve.lock"
        try:
            lock = lock_hold(path)
        except AlreadyRunning as running:
            raise CommandError(
                f"another keiyaku serve (pid {running.holder or '?'}) or its worker is still "
                f"running on the data folder {settings.DATA_DIR}; stop it first ({path} is locked)"
            ) from None
        get_authority()  # create the local CA, signing and TSA certificates on first start
        # The worker inherits the lock (pass_fds) and follows this process (PARENT_ENV).
        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "keiyaku.cli", "run_huey"],
            env={**os.environ, PARENT_ENV: str(os.getpid())},
            pass_fds=(lock,),
        )
        self.stdout.write(f"keiyaku: http://{addr}/  (worker pid {worker.pid})")
        try:
            call_command(
                "runserver", addr, use_reloader=False, use_threading=True, insecure_serving=True
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            os.close(lock)
