"""The ingest proof: a file is accepted only once keiyaku has signed a copy of it verifiably.

Issue 10, findings 2, 7 and 8: files were accepted, sent, signed by every party and completed,
and only then did ``keiyaku verify`` say NG (pyHanko's change analysis failed on an old form
field), or never finished. So before accepting a file, :func:`prove` does to a scratch copy
what sending and signing will do to the real one -- a box field and two signature fields
(``engine.prepare``), a signature, the box filled (``boxes.fill_box_fields``) in a second
signature -- and validates the result with ``validation.verify``, the code ``keiyaku verify``
and the public page run, under the validation budget (``keiyaku.signing.budget``).

The throw-away key is an EC P-256 key made once per process; no timestamp is asked for (the
signature timestamp does not take part in the change analysis, and the TSA must not see
uploads). Only :func:`require_signable` (ingest's entry point) touches Django: its refusal.
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pikepdf
from asn1crypto import x509 as asn1_x509
from django.utils.translation import gettext_lazy

from keiyaku.signing import budget

if TYPE_CHECKING:
    from keiyaku.signing.ingest import IngestChange

__all__ = [
    "MAX_REFERENCE_PATHS",
    "PROOF_SHARE",
    "ProofFailed",
    "prove",
    "prove_in_process",
    "reference_paths",
    "require_signable",
]

logger = logging.getLogger(__name__)

#: The proof's share of the validation budget. A finished contract carries one signature per
#: party and a document timestamp, and its validation compares every revision with the next;
#: the proof signs twice. A file whose two-signature proof needs more than this share of the
#: budget would not verify with many parties inside it.
PROOF_SHARE = 0.25

#: The most paths from the trailer to indirect objects a file may have for its proof to run.
#: pyHanko's change analysis (``HistoricalResolver._load_reverse_xref_cache``) lists every path
#: to every object, for each revision it compares, at about 5,000-10,000 paths a second; past
#: this many the proof would spend its share of the budget walking them and give up
#: (``over_budget``) after tens of seconds. Such a file goes straight to normalising harder.
#: Issue 10, finding 7: 22 form XObjects each listing the earlier ones make 4.2 million paths;
#: a 600-page contract has about 4,200.
MAX_REFERENCE_PATHS = 100_000

_SIGNATURES = ("keiyaku-proof-1", "keiyaku-proof-2")
_TEXT_BOX = "keiyaku-proof-text"
_CHECK_BOX = "keiyaku-proof-check"
_BOX_SIZE = (120.0, 16.0)  # points: a date fits
_UNSIGNABLE = gettext_lazy(
    "このPDFは、署名した後に署名を検証できない構造（古い入力フォームなど）を含むため登録できません。"
    "PDFとして印刷し直したファイルを登録してください。"
)  # points; the smallest text box staff can place is about this size


@dataclass(frozen=True)
class ProofFailed(Exception):
    """The scratch copy could not be signed verifiably; ``reason`` says how (English, logs)."""

    reason: str
    over_budget: bool = False
    """The validation ran out of its time or memory budget rather than saying NG."""

    def __str__(self) -> str:
        return self.reason


def require_signable(pdf: bytes, changes: list[IngestChange]) -> bytes:
    """``pdf`` if its proof passes; else the file normalised harder (``flatten``) if that one's
    proof passes, with what was applied appended to ``changes``.

    ``pdf``: ingest's rewrite of an upload. Raises ``RefusedUpload`` with code ``unsignable``
    (Japanese message: print it to PDF again) when neither proves, including when both proofs
    ran out of budget. Rule: issue 10, findings 2, 7 and 8.
    """
    from keiyaku.signing.flatten import normalise_harder
    from keiyaku.signing.ingest import IngestChange, RefusedUpload, _check_rewritten

    try:
        prove(pdf)
        return pdf
    except ProofFailed as exc:
        logger.info("ingest proof failed, normalising harder: %s", exc)
    applied: list[str] = []
    try:
        harder, applied = normalise_harder(pdf)
        if applied:
            # Normalising harder keeps every page: the result must have as many as the input.
            _check_rewritten(harder, pages=_page_count(pdf))
            prove(harder)
            changes.extend(IngestChange(value) for value in applied)
            return harder
    except ProofFailed as exc:
        logger.info("ingest proof failed after %s: %s", applied, exc)
    except RefusedUpload:
        raise
    except Exception as exc:  # noqa: BLE001 - a repair that breaks on this file: not signable
        logger.info("normalising harder failed: %s: %s", type(exc).__name__, exc, exc_info=True)
    raise RefusedUpload(
        _UNSIGNABLE,
        code="unsignable",
    )


def _page_count(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        return len(opened.pages)


def proof_limits() -> budget.Limits:
    """The configured validation budget, with :data:`PROOF_SHARE` of its time."""
    limits = budget.configured()
    return budget.Limits(seconds=limits.seconds * PROOF_SHARE, memory_mb=limits.memory_mb)


def prove(pdf: bytes, *, limits: budget.Limits | None = None) -> None:
    """Sign a scratch copy of ``pdf`` twice, filling a box between, and validate it (see the
    module docstring) in a child process under ``limits`` (default: :func:`proof_limits`).

    ``pdf``: a normalised file (``ingest._normalise``'s rewrite), unsigned. Returns when both
    signatures verify as ``keiyaku verify`` would judge them. Raises :class:`ProofFailed` when
    preparing, signing or filling fails, when the report is not OK, or when the budget ran out
    (``over_budget``). Rule: issue 10, findings 2, 7 and 8.
    """
    try:
        reason = budget.run(prove_in_process, pdf, limits=limits or proof_limits())
    except budget.BudgetExceeded as exc:
        raise ProofFailed(str(exc), over_budget=True) from exc
    if reason is not None:
        raise ProofFailed(reason)


def prove_in_process(pdf: bytes) -> str | None:
    """The proof itself, in this process and without a budget: ``None`` when the copy signs and
    verifies, else the reason it does not (English). Never raises for a bad ``pdf``.

    A file with more than :data:`MAX_REFERENCE_PATHS` reference paths is not signed at all:
    its validation would not end within the budget (issue 10, finding 7)."""
    paths = reference_paths(pdf, limit=MAX_REFERENCE_PATHS + 1)
    if paths > MAX_REFERENCE_PATHS:
        return f"more than {MAX_REFERENCE_PATHS} reference paths for the change analysis to walk"
    try:
        signed = _sign_scratch_copy(pdf)
    except Exception as exc:  # noqa: BLE001 - whatever breaks, the file is not signable
        return f"cannot be signed: {type(exc).__name__}: {exc}"
    from keiyaku.signing.validation import verify

    _, cert = _throwaway()
    report = verify(signed, trust_roots=[cert])
    if not report.ok:
        return f"signed copy does not verify: {report.error}"
    found = [s.field_name for s in report.signatures]
    if found != list(_SIGNATURES):
        return f"signed copy lists signatures {found}"
    return None


def reference_paths(pdf: bytes, *, limit: int) -> int:
    """How many paths pyHanko's change analysis walks in ``pdf`` from the trailer to indirect
    objects, counted up to ``limit`` (the count stops growing there).

    ``pdf``: a PDF's bytes; 0 when pikepdf cannot read its objects (the proof then judges).
    Counted as pyHanko walks (``pyhanko.pdf_utils.reader``, ``_compute_paths_to_refs``): no
    path passes one object twice, ``/Parent`` and ``/P`` back-references are not followed, and
    a page-tree node is entered only from the page tree. The structure tree, which pyHanko
    walks separately, is left out: the count is a lower bound. Paths are counted, not listed:
    one visit per object, so the 4-million-path file of finding 7 is counted in milliseconds.
    """
    try:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            return _count_paths(doc, limit)
    except (pikepdf.PdfError, RecursionError, ValueError, TypeError) as exc:
        logger.info("reference paths not counted: %s: %s", type(exc).__name__, exc)
        return 0


_NOT_FOLLOWED = frozenset({"/Parent", "/P", "/StructTreeRoot"})


def _count_paths(doc: pikepdf.Pdf, limit: int) -> int:
    page_tree = _page_tree(doc)

    def children(obj: pikepdf.Object, in_page_tree: bool) -> list[pikepdf.Object]:
        found, pending = [], [obj]
        while pending:
            current = pending.pop()
            entries: list[tuple[str | None, pikepdf.Object]]
            if isinstance(current, pikepdf.Array):
                entries = [(None, value) for value in current]
            elif isinstance(current, (pikepdf.Dictionary, pikepdf.Stream)):
                entries = list(current.items())
            else:
                continue
            for key, value in entries:
                if key in _NOT_FOLLOWED or not isinstance(value, pikepdf.Object):
                    continue
                if not value.is_indirect:
                    pending.append(value)
                elif value.objgen not in page_tree or in_page_tree or key == "/Pages":
                    found.append(value)
        return found

    # Depth first without recursion; paths(o) = 1 + the sum of paths(child) over children not
    # already on the path; remembered per object once done.
    done: dict[tuple[int, int], int] = {}
    trailer = (0, 0)
    on_path = {trailer}
    stack = [(trailer, iter(children(doc.trailer, False)), 1)]
    while stack:
        objgen, pending, count = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            on_path.discard(objgen)
            done[objgen] = count
            if stack:
                above = stack[-1]
                stack[-1] = (above[0], above[1], min(above[2] + count, limit))
            continue
        key = child.objgen
        if key in on_path:
            continue
        if key in done:
            stack[-1] = (objgen, pending, min(count + done[key], limit))
            continue
        on_path.add(key)
        stack.append((key, iter(children(child, key in page_tree)), 1))
    return done[trailer]


def _page_tree(doc: pikepdf.Pdf) -> set[tuple[int, int]]:
    """The object numbers of every node of the page tree (pages included)."""
    nodes: set[tuple[int, int]] = set()
    pending = [doc.Root.get("/Pages")]
    while pending:
        node = pending.pop()
        if not isinstance(node, pikepdf.Dictionary) or not node.is_indirect:
            continue
        if node.objgen in nodes:
            continue
        nodes.add(node.objgen)
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            pending.extend(kids)
    return nodes


def _sign_scratch_copy(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from keiyaku.signing.boxes import CHECKBOX, TEXT, BoxSpec
    from keiyaku.signing.engine import prepare

    rect_text, rect_check = _box_rects(pdf)
    prepared = prepare(
        pdf,
        field_names=list(_SIGNATURES),
        boxes=[
            BoxSpec(name=_TEXT_BOX, page_index=0, rect=rect_text, kind=TEXT),
            BoxSpec(name=_CHECK_BOX, page_index=0, rect=rect_check, kind=CHECKBOX),
        ],
    )
    first = _sign(IncrementalPdfFileWriter(io.BytesIO(prepared)), _SIGNATURES[0], {})
    return _sign(
        IncrementalPdfFileWriter(io.BytesIO(first)),
        _SIGNATURES[1],
        {_TEXT_BOX: "令和8年4月1日", _CHECK_BOX: "1"},
    )


def _box_rects(
    pdf: bytes,
) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """A text box and a checkbox side by side at the centre of page 1, as displayed."""
    import pikepdf

    from keiyaku.signing.geometry import visible_page

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        visible = visible_page(doc.pages[0])
    width, height = visible.size
    w, h = min(_BOX_SIZE[0], width / 3), min(_BOX_SIZE[1], height / 3)
    left, top = (width - 2 * w) / 2, (height - h) / 2
    return (
        visible.to_user(left, top, w, h),
        visible.to_user(left + w + 1, top, min(w, h), min(w, h)),
    )


def _sign(writer, field_name: str, fill: dict[str, str]) -> bytes:  # type: ignore[no-untyped-def]
    from pyhanko.sign import fields, signers

    from keiyaku.signing.aio import run_sync
    from keiyaku.signing.boxes import fill_box_fields
    from keiyaku.signing.engine import MD_ALGORITHM

    if fill:
        fill_box_fields(writer, fill)
    signer, _ = _throwaway()
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=MD_ALGORITHM,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason="keiyaku ingest proof",
    )
    out = io.BytesIO()
    run_sync(
        signers.PdfSigner(meta, signer=signer).async_sign_pdf(
            writer, existing_fields_only=True, output=out
        )
    )
    return out.getvalue()


@functools.cache
def _throwaway():  # type: ignore[no-untyped-def]
    """(pyHanko signer, its self-signed certificate): an EC key made once per process."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from keiyaku.signing.engine import ServiceSigner

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keiyaku ingest proof")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return ServiceSigner.from_key(cert=asn1_cert, key=key).signer, asn1_cert
