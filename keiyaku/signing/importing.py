"""Importing a PDF concluded elsewhere (R30): on paper and scanned, or signed in another
service. The file is kept exactly as it came; keiyaku only appends one incremental revision
with a document timestamp (``engine.timestamp_document``), so the original bytes stay a prefix
of the stored file and every signature already in it stays as it was.

Unlike ingest (``keiyaku.signing.ingest``), nothing is normalised or stripped: a rewrite would
break the signatures of another service, and nobody signs the file here. So only what appending
a revision and showing the pages need is checked, every step in a budgeted child
(``keiyaku.signing.budget``) under the ingest's budget, since the file comes from outside:

- size (``max_bytes``) and the ``%PDF-`` header, before any child;
- not encrypted (a password, a certificate, another handler): a revision appended to an
  encrypted file must be encrypted with its key, which keiyaku does not have;
- the resource limits of every upload (``pdf_limits.check_limits``: pages, page size, decoded
  stream sizes), because the pages are drawn for staff like any other document's;
- qpdf reads it without repairing anything, and it has pages: a revision appended to a damaged
  cross-reference table could point into the damage;
- **the stamp proof**: a scratch copy gets a document timestamp from a throw-away authority,
  exactly as the real one will be appended, and the result is checked: the original is its
  prefix, and the new timestamp is intact and covers the whole file (pyHanko's validation);
- PDFium reads every page (sizes) and its text, for search (R28).

Refusals are ``RefusedUpload`` with a code and a Japanese message, as for any upload.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import logging
from pathlib import Path
from typing import Any

import pikepdf
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku.refusals import Refusal
from keiyaku.signing import budget, damage, render
from keiyaku.signing.ingest import (
    RefusedUpload,
    _child_context,
    _enter_django,
    _head,
    ingest_limits,
)
from keiyaku.signing.pdf_limits import PdfLimits, check_limits

__all__ = ["Importable", "import_check"]

logger = logging.getLogger(__name__)

_MAGIC = b"%PDF-"
_MIB = 1024 * 1024

MESSAGES = {
    "empty": gettext_lazy("ファイルが空です。"),
    "not_pdf": gettext_lazy("PDFファイルではありません。"),
    "corrupt": gettext_lazy(
        "PDFの構造が壊れているため、タイムスタンプを追加できません。"
        "元のサービスやスキャナーから保存し直したファイルを取り込んでください。"
    ),
    "encrypted": gettext_lazy(
        "暗号化（パスワードなどで保護）されたPDFには、元のファイルを変えずにタイムスタンプを"
        "追加できないため取り込めません。保護を解除したファイルを取り込んでください。"
    ),
    "no_pages": gettext_lazy("ページのないPDFは取り込めません。"),
    "unstampable": gettext_lazy(
        "このPDFには、元のファイルを変えずにタイムスタンプを追加できません。"
        "元のサービスやスキャナーから保存し直したファイルを取り込んでください。"
    ),
    "over_budget": gettext_lazy(
        "このPDFは確認に時間またはメモリがかかりすぎるため取り込めません。"
    ),
}


def _refused(code: str) -> RefusedUpload:
    return RefusedUpload(MESSAGES[code], code=code)


@dataclasses.dataclass(frozen=True)
class Importable:
    """What the checks found in a file that can be imported."""

    sha256: str
    """Hex SHA-256 of the file as it came (its bytes are stored unchanged)."""
    size: int
    page_count: int
    page_sizes: tuple[tuple[float, float], ...]
    """(width, height) of each page as displayed, in points."""
    signatures: int
    """Signatures and document timestamps already in the file (another service's)."""
    text: str
    """The pages' text (``render.document_text``), for search (R28)."""


def import_check(data: bytes | Path, *, max_bytes: int) -> Importable:
    """Check that ``data`` (the bytes, or the path of a file holding them) can be imported:
    a document timestamp can be appended without changing a byte of it. Raises only
    ``RefusedUpload`` or a resource limit's refusal (``pdf_limits``; codes: empty, too_large, not_pdf, encrypted, corrupt, no_pages, over a
    resource limit, unstampable, over_budget). Rule: R30; budgets: issue 10, finding 7."""
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    if not size:
        raise _refused("empty")
    if size > max_bytes:
        raise RefusedUpload(
            _("ファイルサイズが上限（%(mb)sMB）を超えています。")
            % {"mb": f"{max_bytes / _MIB:.4g}"},
            code="too_large",
        )
    if _MAGIC not in _head(data, 1024 + len(_MAGIC)):
        raise _refused("not_pdf")
    context = _child_context()
    try:
        signatures, digest = budget.run(_structure_bounded, data, context, limits=ingest_limits())
        sizes, text = budget.run(_pages_bounded, data, context, limits=ingest_limits())
    except budget.BudgetExceeded as exc:
        logger.info("import refused: over its %s budget", exc.what)
        raise _refused("over_budget") from exc
    return Importable(
        sha256=digest,
        size=size,
        page_count=len(sizes),
        page_sizes=tuple(sizes),
        signatures=signatures,
        text=text,
    )


def _read(data: bytes | Path) -> bytes:
    return data if isinstance(data, bytes) else data.read_bytes()


def _structure_bounded(data: bytes | Path, context: dict[str, Any]) -> tuple[int, str]:
    """In a budgeted child: encryption, limits, damage and the stamp proof; returns (signatures
    already in the file, SHA-256). Raises only RefusedUpload."""
    _enter_django(context)
    pdf = _read(data)
    try:
        _require_readable(pdf)
        signatures = _prove_stampable(pdf)
    except Refusal:  # RefusedUpload, or a resource limit (pdf_limits)
        raise
    except Exception as exc:
        logger.info("import refused as corrupt: %s: %s", type(exc).__name__, exc, exc_info=True)
        raise _refused("corrupt") from None
    return signatures, hashlib.sha256(pdf).hexdigest()


def _require_readable(pdf: bytes) -> None:
    try:
        doc = pikepdf.open(io.BytesIO(pdf))
    except pikepdf.PasswordError:
        raise _refused("encrypted") from None
    except pikepdf.PdfError:
        if damage.encryption_filter(pdf) is not None:
            raise _refused("encrypted") from None
        raise _refused("corrupt") from None
    with doc:
        if doc.is_encrypted:
            raise _refused("encrypted")
        check_limits(doc, limits=PdfLimits.from_settings())
        if doc.get_warnings():
            raise _refused("corrupt")  # qpdf had to repair something
        if len(doc.pages) == 0:
            raise _refused("no_pages")


def _prove_stampable(pdf: bytes) -> int:
    """Append a document timestamp from a throw-away authority to a scratch copy, as
    ``engine.timestamp_document`` will, and check the result: ``pdf`` is its prefix and the
    new timestamp is intact and covers the whole file. Returns the signatures already there."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.validation import validate_pdf_timestamp
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    cert, stamper = _throwaway_tsa()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    before = len(writer.prev.embedded_signatures)
    out = io.BytesIO()
    PdfTimeStamper(stamper, field_name="keiyaku-import-proof").timestamp_pdf(
        writer, "sha256", output=out
    )
    stamped = out.getvalue()
    if not stamped.startswith(pdf):
        raise _refused("unstampable")
    reader = PdfFileReader(io.BytesIO(stamped))
    found = reader.embedded_signatures
    if len(found) != before + 1:
        raise _refused("unstampable")
    status = validate_pdf_timestamp(
        found[-1], validation_context=ValidationContext(trust_roots=[cert]), skip_diff=True
    )
    if not (
        status.intact and status.valid and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    ):
        raise _refused("unstampable")
    return before


@functools.cache
def _throwaway_tsa():  # type: ignore[no-untyped-def]
    """(certificate, pyHanko DummyTimeStamper, which signs with RSA only): a key made once per
    process, never a
    token anybody sees (the proof's copy is thrown away)."""
    import datetime as dt

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keiyaku import proof")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    private = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return asn1_cert, DummyTimeStamper(tsa_cert=asn1_cert, tsa_key=private)


def _pages_bounded(
    data: bytes | Path, context: dict[str, Any]
) -> tuple[list[tuple[float, float]], str]:
    """In a budgeted child: PDFium's page sizes and text. Raises only RefusedUpload."""
    _enter_django(context)
    pdf = _read(data)
    try:
        return render.page_sizes(pdf), render.document_text(pdf)
    except Exception as exc:
        logger.info("import refused as corrupt: %s: %s", type(exc).__name__, exc, exc_info=True)
        raise _refused("corrupt") from None
