"""Which certificates a signed PDF relies on: the signers of its signatures and timestamps.

Knows nothing of Django; runs in a validation child (``keiyaku.signing.budget``) like every
other parse of a PDF. Finalising asks it which chains need validation data (issue 13: a
document may hold signatures made under an earlier signing certificate or TSA).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

__all__ = ["DocumentCertificates", "document_certificates", "token_certificates"]


@dataclass(frozen=True)
class DocumentCertificates:
    """Certificates as DER, each once."""

    signers: tuple[bytes, ...]
    """Certificates that signed something in the document: each signature, each signature
    timestamp token, each document timestamp."""
    others: tuple[bytes, ...]
    """Every other certificate the CMS structures carry (intermediates, usually)."""


def token_certificates(signed_data: cms.SignedData) -> tuple[asn1_x509.Certificate, list]:
    """(the signer's certificate, every certificate carried) of one CMS SignedData (a
    signature or an RFC 3161 token). Raises ValueError when the signer's certificate is not
    among them."""
    carried = [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
    sid = signed_data["signer_infos"][0]["sid"]
    for cert in carried:
        if sid.name == "issuer_and_serial_number":
            if (
                cert.issuer == sid.chosen["issuer"]
                and cert.serial_number == sid.chosen["serial_number"].native
            ):
                return cert, carried
        elif cert.key_identifier == sid.chosen.native:
            return cert, carried
    raise ValueError("the signer's certificate is not in the CMS")


def document_certificates(pdf: bytes) -> DocumentCertificates:
    """The certificates behind every signature and timestamp in ``pdf`` (bytes of a PDF).

    Raises what pyHanko raises on a PDF it cannot read, and ValueError when a signature does
    not carry its signer's certificate.
    """
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    signers: dict[bytes, None] = {}
    others: dict[bytes, None] = {}
    for signed_data in _signed_data(reader):
        signer, carried = token_certificates(signed_data)
        signers[signer.dump()] = None
        for cert in carried:
            others[cert.dump()] = None
    return DocumentCertificates(
        signers=tuple(signers), others=tuple(c for c in others if c not in signers)
    )


def _signed_data(reader: PdfFileReader) -> Iterator[cms.SignedData]:
    for sig in reader.embedded_signatures:
        yield sig.signed_data
        if sig.sig_object_type == "/DocTimeStamp":
            continue
        yield from extract_tst_data_iter(sig.signer_info, signed=False)
