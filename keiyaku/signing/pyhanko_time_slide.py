"""A local override of the revocation data pyHanko's AdES time slide looks at
(pyhanko-certvalidator 0.33, ``ltv.time_slide.ades_gather_prima_facie_revinfo``).

Issue 13, acceptance 4 (R21): a contract renewed yearly under TSA certificates that live two
years failed AdES-LTA validation with ``OUT_OF_BOUNDS_NO_POE`` from its second renewal on, although
every renewal was made in time and the document holds every piece of validation data.

The cause is in the past certificate validation of ETSI EN 319 102-1 §5.6.2.1, which pyHanko
runs for every archive timestamp whose TSA certificate has expired. Its time slide (§5.6.2.2)
starts at the validation time and moves the control time back to where the revocation data
last vouched for each certificate. pyHanko takes every CRL or OCSP answer of the right issuer
as such data, including those issued after the certificate expired; the document carries
them, since each renewal adds the root's fresh CRL for the new timestamp. So the control time
never leaves the present, and pyHanko's re-validation of the path at the control time then
fails: the certificate has expired. But a CRL lists only the revoked certificates that have not
expired (RFC 5280 §3.3, §5: "a complete CRL lists all unexpired certificates … that have been
revoked"; X.509's expiredCertsOnCRL aside), and an OCSP responder need not keep answering for
expired ones (RFC 6960 §4.4.4): once issued after the expiry, "not revoked" says nothing about the
certificate. It is not revocation status information "consistent with the rules conditioning
its use" (§5.6.2.2.4, step 2a).

:func:`ades_gather_prima_facie_revinfo` returns what pyHanko's gathers, without the revocation
data issued after the certificate's notAfter that does not report it revoked (a revocation
reported later is still a revocation, so such data stays and pyHanko judges it). The slide then
stops at the last data from the certificate's lifetime, which keiyaku's renewals embed while the
certificate is valid, and the archive timestamp after it proves that data existed then.

:func:`install` replaces the module attribute pyHanko's time slide calls; it is idempotent and
runs when ``keiyaku.signing`` is imported. Remove this module once pyHanko's time slide skips such
data itself.
"""

from __future__ import annotations

from datetime import datetime

from asn1crypto import x509
from pyhanko_certvalidator.ltv import time_slide
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import RevocationCheckingRule
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer
from pyhanko_certvalidator.revinfo.manager import RevinfoManager
from pyhanko_certvalidator.revinfo.validate_crl import CRLOfInterest
from pyhanko_certvalidator.revinfo.validate_ocsp import OCSPResponseOfInterest

__all__ = ["ades_gather_prima_facie_revinfo", "install", "installed", "upstream"]

upstream = time_slide.ades_gather_prima_facie_revinfo
"""pyHanko's own gathering, kept for comparison in the tests."""


async def ades_gather_prima_facie_revinfo(
    path: ValidationPath,
    revinfo_manager: RevinfoManager,
    control_time: datetime,
    revocation_checking_rule: RevocationCheckingRule,
) -> tuple[list[CRLOfInterest], list[OCSPResponseOfInterest]]:
    """The CRLs and OCSP responses that may tell the revocation status of ``path``'s leaf at
    ``control_time``: pyHanko's candidates (same arguments, same return shape) less those issued
    after the leaf expired that do not list it as revoked. An attribute certificate's candidates
    are returned as they are."""
    crls, ocsps = await upstream(path, revinfo_manager, control_time, revocation_checking_rule)
    cert = path.leaf
    if not isinstance(cert, x509.Certificate):
        return crls, ocsps
    expiry = cert.not_valid_after
    return (
        [c for c in crls if _within(c.crl, expiry) or _crl_lists(c.crl, cert)],
        [o for o in ocsps if _within(o.ocsp_response, expiry) or _ocsp_revokes(o.ocsp_response)],
    )


def _within(revinfo: CRLContainer | OCSPContainer, expiry: datetime) -> bool:
    issued = revinfo.issuance_date
    # Without an issuance date pyHanko skips the data anyway.
    return issued is None or issued <= expiry


def _crl_lists(revinfo: CRLContainer, cert: x509.Certificate) -> bool:
    # pyHanko has matched the CRL's scope to the certificate's issuer; a serial number on it
    # (even of an indirect CRL's other issuer) hands the CRL back to pyHanko, whose own check
    # decides what it means: keeping data is pyHanko's behaviour, never a looser one.
    revoked = revinfo.crl_data["tbs_cert_list"]["revoked_certificates"]
    serial = cert.serial_number
    return any(entry["user_certificate"].native == serial for entry in revoked)


def _ocsp_revokes(revinfo: OCSPContainer) -> bool:
    single = revinfo.extract_single_response()
    return single is not None and single["cert_status"].name == "revoked"


def install() -> None:
    """Make pyHanko's time slide use :func:`ades_gather_prima_facie_revinfo`."""
    time_slide.ades_gather_prima_facie_revinfo = ades_gather_prima_facie_revinfo


def installed() -> bool:
    """True when pyHanko's time slide uses the override."""
    return time_slide.ades_gather_prima_facie_revinfo is ades_gather_prima_facie_revinfo
