"""Start the web server and the background worker together (the embedded set-up)."""

import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from keiyaku.pki.service import get_authority


class Command(BaseCommand):
    help = "Run the web server and a Huey worker; stop both with Ctrl+C."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options):
        get_authority()  # create the local CA, signing and TSA certificates on first start
        worker = subprocess.Popen([sys.executable, "-m", "keiyaku.cli", "run_huey"])  # noqa: S603
        self.stdout.write(f"keiyaku: http://{addr}/  (worker pid {worker.pid})")
        try:
            call_command(
                "runserver", addr, use_reloader=False, use_threading=True, insecure_serving=True
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
