"""`keiyaku rotate-master-key`: seal again under KEIYAKU_MASTER_KEY what a previous key sealed.

Procedure: docs/operations.md, "Master key rotation"; what it visits: keiyaku.storage.rotation.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from keiyaku.storage import crypto
from keiyaku.storage.rotation import RotationStopped, master_key_rotate, master_key_survey


class Command(BaseCommand):
    help = (
        "Re-seal under KEIYAKU_MASTER_KEY every value sealed with a key of "
        "KEIYAKU_MASTER_KEY_PREVIOUS (contract data keys, sign-in secrets, PKI private keys). "
        "Stored files are not re-encrypted: only their data keys' wrapping changes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="count the values that still need a previous key; change nothing",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="rows re-sealed in one transaction (default 500)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        previous = len(crypto.master_keys()) - 1
        self.stdout.write(f"master keys: the current one and {previous} previous")
        if options["check"]:
            survey = master_key_survey()
            for line in survey.lines():
                self.stdout.write(line)
            self.stdout.write(f"{survey.total('previous')} values still need a previous key")
            if survey.total("broken"):
                raise CommandError(
                    f"{survey.total('broken')} values open with no configured master key: put "
                    "the key that sealed them in KEIYAKU_MASTER_KEY_PREVIOUS (or, with none "
                    "configured, check KEIYAKU_MASTER_KEY)"
                )
            return
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            survey = master_key_rotate(batch_size=options["batch_size"])
        except RotationStopped as stopped:
            for line in stopped.survey.lines():
                self.stdout.write(line)
            raise CommandError(str(stopped)) from stopped
        for line in survey.lines():
            self.stdout.write(line)
        self.stdout.write(
            f"rotation complete: {survey.total('resealed')} values re-sealed, "
            f"{survey.total('current')} already under the current key; stored files unchanged"
        )
