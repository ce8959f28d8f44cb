"""Run keiyaku: gunicorn with several workers, static files, and a supervised Huey worker.

One serve per data folder: it holds ``DATA_DIR/serve.lock`` (shared with its worker) and its
children end when it does, even when serve is killed hard (keiyaku.process_lifetime,
keiyaku.operations.server). Before starting them it checks the configuration (with
``KEIYAKU_ENV=production``, the deploy checks too), creates the local authority on first start
and collects the static files when they changed.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from keiyaku.operations.server import Supervisor, WebOptions
from keiyaku.operations.static_files import collect_static_if_needed
from keiyaku.pki.service import get_authority
from keiyaku.process_lifetime import AlreadyRunning, lock_hold


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and a Huey worker; stop both with Ctrl+C or SIGTERM."
    # Checked below, after the lock: a second serve stops at once.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to listen on")
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.KEIYAKU_WEB_WORKERS,
            help="web worker processes (KEIYAKU_WEB_WORKERS; default: one per CPU, at least 2)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.KEIYAKU_WEB_THREADS,
            help="threads per web worker (KEIYAKU_WEB_THREADS)",
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=settings.KEIYAKU_WEB_TIMEOUT,
            help="seconds a request may take (KEIYAKU_WEB_TIMEOUT)",
        )

    def handle(self, *args, addr: str, workers: int, threads: int, timeout: int, **options):
        if workers < 1 or threads < 1 or timeout < 1:
            raise CommandError("--workers, --threads and --timeout must be at least 1")
        path = settings.DATA_DIR / "serve.lock"
        try:
            lock = lock_hold(path)
        except AlreadyRunning as running:
            raise CommandError(
                f"another keiyaku serve (pid {running.holder or '?'}) or its worker is still "
                f"running on the data folder {settings.DATA_DIR}; stop it first ({path} is locked)"
            ) from None
        # Errors stop serve here (SystemCheckError), with every message and its hint.
        self.check(
            include_deployment_checks=settings.KEIYAKU_ENV == "production",
            databases=["default"],
        )
        get_authority()  # create the local CA, signing and TSA certificates on first start
        collect_static_if_needed()
        supervisor = Supervisor(
            WebOptions(addr=addr, workers=workers, threads=threads, timeout=timeout),
            lock_fd=lock,
            out=self.stdout,  # type: ignore[arg-type]  # an OutputWrapper writes like one
        )
        status = supervisor.run()
        if status:
            raise CommandError("the web server ended; see the log above")
