"""Does the configured signing key work? `keiyaku check --deploy` and `/readyz` ask the same.

- keiyaku.E130: the signing key settings are incomplete or contradictory (both a PKCS#12 file
  and a PKCS#11 module, a PKCS#11 setting missing, a file that cannot be read).
- keiyaku.E131: the key cannot sign: the PKCS#11 module, token or key cannot be reached, the
  PIN is wrong, or the PKCS#12 file does not open.
- keiyaku.E132: the key does not belong to the configured certificate.
- keiyaku.E133: the HSM key could leave the token (CKA_EXTRACTABLE true or CKA_SENSITIVE false).
- keiyaku.E134: the signing certificate lacks the nonRepudiation (contentCommitment) key usage:
  pyHanko, and so `keiyaku verify` and the verification page, would not trust its signatures.

Each message names the setting to change and never shows a PIN or password. Issue 13.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

__all__ = ["CertificateUnfit", "KeyCanLeaveToken", "probe_signing_key", "signing_key_works"]


class KeyCanLeaveToken(RuntimeError):
    """The HSM's private key object is extractable or not sensitive: it is not kept in the HSM."""


class CertificateUnfit(ValueError):
    """The signing certificate's key usage does not allow document signatures (nonRepudiation,
    which pyHanko's validator requires by default)."""


def probe_signing_key() -> None:
    """Sign a challenge with the process's signing key and check it against the certificate;
    for a key in an HSM, also that the token keeps it (CKA_EXTRACTABLE false, CKA_SENSITIVE
    true). Uses the process's signer (``keys.get_service_signer``): no second login.

    Raises ``ImproperlyConfigured`` (settings), python-pkcs11's ``PKCS11Error``,
    ``SigningKeyUnavailable`` or ``ValueError`` (cannot sign or load), ``SigningKeyMismatch``
    (another key than the certificate's), :class:`CertificateUnfit`, :class:`KeyCanLeaveToken`.
    """
    from keiyaku.signing.hsm import Pkcs11KeySigner
    from keiyaku.signing.keys import get_service_signer

    signer = get_service_signer()
    signer.self_test()
    usage = signer.cert.key_usage_value
    if usage is not None and "non_repudiation" not in usage.native:
        raise CertificateUnfit(f"key usage {sorted(usage.native)} lacks non_repudiation")
    if isinstance(signer.signer, Pkcs11KeySigner):
        attributes = signer.signer.key_attributes()
        if not attributes.stays_in_token:
            raise KeyCanLeaveToken(
                f"{signer.signer.config.where}: CKA_EXTRACTABLE={attributes.extractable}, "
                f"CKA_SENSITIVE={attributes.sensitive}"
            )


@checks.register(checks.Tags.security, deploy=True)
def signing_key_works(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The messages above; nothing to check for keiyaku's own authority (E120 covers its keys)."""
    from keiyaku.signing.engine import SigningKeyMismatch
    from keiyaku.signing.keys import signer_backend

    try:
        backend = signer_backend()
        if backend == "local":
            return []
        probe_signing_key()
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                f"The signing key settings do not work: {exc}.",
                hint="See docs/trust.md (PKCS#11 settings) and docs/operations.md.",
                id="keiyaku.E130",
            )
        ]
    except SigningKeyMismatch as exc:
        return [
            checks.Error(
                f"The signing key is not the configured certificate's: {exc}.",
                hint="KEIYAKU_SIGNER_PKCS11_CERT (or the certificate on the token, or in the "
                "PKCS#12 file) must be the one issued for this key's CSR.",
                id="keiyaku.E132",
            )
        ]
    except CertificateUnfit as exc:
        return [
            checks.Error(
                f"The signing certificate does not allow document signatures: {exc}.",
                hint="Ask the CA for a document signing certificate with key usage "
                "digitalSignature and nonRepudiation (docs/trust.md).",
                id="keiyaku.E134",
            )
        ]
    except KeyCanLeaveToken as exc:
        return [
            checks.Error(
                f"The HSM's signing key could leave the token: {exc}.",
                hint="Generate a new key pair inside the HSM as non-extractable and sensitive "
                "and have a certificate issued for it (docs/trust.md).",
                id="keiyaku.E133",
            )
        ]
    except Exception as exc:  # noqa: BLE001 - any failure to sign is this message
        return [
            checks.Error(
                f"The signing key cannot sign: {type(exc).__name__}: {exc}",
                hint="Check KEIYAKU_SIGNER_PKCS11_MODULE, _TOKEN_LABEL, _KEY_LABEL/_KEY_ID and "
                "the PIN (or KEIYAKU_SIGNER_PKCS12 and its password), and that the HSM is "
                "reachable from this machine.",
                id="keiyaku.E131",
            )
        ]
    return []
