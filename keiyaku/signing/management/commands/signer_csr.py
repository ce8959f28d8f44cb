"""`keiyaku signer-csr --common-name NAME [--organization ORG] [--country JP]`: a certification
request for the signing key in the HSM, signed inside the HSM, as PEM on standard output.

Uses the ``KEIYAKU_SIGNER_PKCS11_*`` settings (``KEIYAKU_SIGNER_PKCS11_CERT`` is not needed yet:
the certificate is what the CA issues for this request). Send the request to the CA; put the
issued certificate and its intermediates in the file ``KEIYAKU_SIGNER_PKCS11_CERT`` names (or on
the token). docs/trust.md. Exit status 1 with a message when the token cannot be reached.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import pem
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Write a certification request (PEM) for the signing key kept in the HSM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--common-name", required=True, help="the certificate's CN")
        parser.add_argument("--organization", default="", help="the certificate's O")
        parser.add_argument("--country", default="JP", help="the certificate's C (two letters)")

    def handle(self, *args: Any, **options: Any) -> None:
        from keiyaku.signing.hsm import certification_request
        from keiyaku.signing.keys import pkcs11_config

        subject = {"country_name": options["country"]}
        if options["organization"]:
            subject["organization_name"] = options["organization"]
        subject["common_name"] = options["common_name"]
        try:
            if not self._pkcs11_configured():
                raise ImproperlyConfigured("KEIYAKU_SIGNER_PKCS11_MODULE is not set")
            der = certification_request(pkcs11_config(), subject=subject)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the token's own error, shown to the operator
            raise CommandError(
                f"the HSM did not sign the request: {type(exc).__name__}: {exc}"
            ) from exc
        self.stdout.write(pem.armor("CERTIFICATE REQUEST", der).decode(), ending="")

    @staticmethod
    def _pkcs11_configured() -> bool:
        from django.conf import settings

        return bool(settings.KEIYAKU_SIGNER_PKCS11_MODULE)
