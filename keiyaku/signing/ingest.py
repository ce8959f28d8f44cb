"""Ingest: accept an uploaded PDF once, normalised, or refuse it with a translated message.

Normalising means one full rewrite with qpdf (via pikepdf): decrypted (owner-password-only files),
damaged xref repaired, hybrid xref and object streams gone, a classic xref table, a deterministic
/ID. Everything later (prepare, every signature) appends incremental revisions to that file and
never rewrites it again. ``stamp_certificate_id`` is the one other rewrite, made before the first
signature.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku.fonts import register_reportlab_font, require_glyphs
from keiyaku.refusals import Refusal
from keiyaku.signing import active_content, budget, damage, render
from keiyaku.signing.geometry import visible_page
from keiyaku.signing.pdf_limits import PdfLimits, check_limits

logger = logging.getLogger(__name__)

_MAGIC = b"%PDF-"
_MAGIC_WINDOW = 1024  # readers accept the header anywhere in the first 1 KiB
_MIB = 1024 * 1024

_MESSAGES = {
    "empty": gettext_lazy("ファイルが空です。"),
    "not_pdf": gettext_lazy("PDFファイルではありません。"),
    "corrupt": gettext_lazy("ファイルが壊れているため読み込めません。"),
    "encrypted": gettext_lazy(
        "パスワードで保護されたPDFは登録できません。パスワードを解除してから登録してください。"
    ),
    "signed": gettext_lazy("電子署名済みのPDFは登録できません。"),
    "no_pages": gettext_lazy("ページのないPDFは登録できません。"),
    "over_budget": gettext_lazy(
        "このPDFは確認に時間またはメモリがかかりすぎるため登録できません。"
        "PDFとして印刷し直したファイルを登録してください。"
    ),
    "certificate_encrypted": gettext_lazy(
        "証明書で暗号化されたPDFは登録できません。"
        "証明書による保護（暗号化）を解除して保存し直してから登録してください。"
    ),
    "protected": gettext_lazy(
        "パスワード以外の方法（文書管理サーバーなど）で保護されたPDFは登録できません。"
        "保護を解除して保存し直してから登録してください。"
    ),
    "xfa_only": gettext_lazy(
        "このPDFはAdobe Acrobat・Adobe Readerでしか表示できない動的フォーム（XFA）で、"
        "ページには「Adobe Reader 8以降が必要です」などの案内しかありません。"
        "Adobe Acrobat Readerでフォームを開き、「印刷」から「Microsoft Print to PDF」などの"
        "PDFプリンターでPDFに保存してから登録してください。"
    ),
    "portfolio": gettext_lazy(
        "PDFポートフォリオ（複数のファイルをまとめたPDF）は登録できません。"
        "中のファイルをそれぞれPDFとして保存してから登録してください。"
    ),
}


class IngestChange(enum.StrEnum):
    """One thing ingest changed in an accepted file beyond the plain rewrite.

    Stored per document (`Document.ingest_changes`), written in the audit entry that adds the
    document and shown to staff beside the file, so that nobody has to guess why the file they
    sent differs from the one they uploaded. The labels are in `INGEST_CHANGE_LABELS`.
    """

    USAGE_RIGHTS_REMOVED = "usage_rights_removed"
    # Active content (`keiyaku.signing.active_content.Removed`, same values).
    JAVASCRIPT_REMOVED = "javascript_removed"
    EXTERNAL_ACTIONS_REMOVED = "external_actions_removed"
    ACTIONS_REMOVED = "actions_removed"
    EMBEDDED_FILES_REMOVED = "embedded_files_removed"
    MULTIMEDIA_REMOVED = "multimedia_removed"
    LINKS_REMOVED = "links_removed"
    XFA_REMOVED = "xfa_removed"
    # Normalising harder after a failed ingest proof (keiyaku.signing.flatten).
    FORM_FLATTENED = "form_flattened"
    STRUCTURE_TREE_REMOVED = "structure_tree_removed"
    XOBJECT_RESOURCES_PRUNED = "xobject_resources_pruned"


INGEST_CHANGE_LABELS = {
    IngestChange.USAGE_RIGHTS_REMOVED: gettext_lazy(
        "Adobe Readerの利用権限（Reader Extensions）を削除しました。"
    ),
    IngestChange.JAVASCRIPT_REMOVED: gettext_lazy("JavaScript（スクリプト）を削除しました。"),
    IngestChange.EXTERNAL_ACTIONS_REMOVED: gettext_lazy(
        "ほかのファイル・プログラム・Webページを開く動作やフォームの送信"
        "（Launch、GoToR、SubmitFormなど）を削除しました。"
    ),
    IngestChange.ACTIONS_REMOVED: gettext_lazy(
        "ファイルを開いたときや操作したときに自動で実行される動作を削除しました。"
    ),
    IngestChange.EMBEDDED_FILES_REMOVED: gettext_lazy(
        "添付ファイル（埋め込みファイル）を削除しました。"
    ),
    IngestChange.MULTIMEDIA_REMOVED: gettext_lazy(
        "動画・音声・3Dなどのマルチメディアを削除しました。"
    ),
    IngestChange.LINKS_REMOVED: gettext_lazy(
        "リンクを削除しました（団体の設定でPDFのリンクを残さない設定になっています）。"
    ),
    IngestChange.XFA_REMOVED: gettext_lazy(
        "XFAフォームのデータを削除しました（PDFのページとフォーム欄はそのまま残っています）。"
    ),
    IngestChange.FORM_FLATTENED: gettext_lazy(
        "入力フォームを、印刷される内容のままページの一部に変換しました（署名を検証できる形にするため）。"
    ),
    IngestChange.STRUCTURE_TREE_REMOVED: gettext_lazy(
        "壊れた文書構造情報（タグ）を削除しました。ページの表示は変わりません。"
    ),
    IngestChange.XOBJECT_RESOURCES_PRUNED: gettext_lazy(
        "ページ部品の使われていない参照を削除しました。ページの表示は変わりません。"
    ),
}


class RefusedUpload(Refusal):
    """An upload we will not accept (see keiyaku.refusals); ``code`` says why."""


class _RewriteWarned(RefusedUpload):
    """qpdf warns about the rewrite: a corrupt file, unless a stream repair cures it."""


def _refused(code: str) -> RefusedUpload:
    return RefusedUpload(_MESSAGES[code], code=code)


@dataclass(frozen=True)
class Ingested:
    original_sha256: str
    """Hex SHA-256 of the bytes as uploaded."""
    normalised: bytes
    """The rewritten file every later revision is appended to."""
    normalised_sha256: str
    """Hex SHA-256 of ``normalised``."""
    page_count: int
    page_sizes: tuple[tuple[float, float], ...]
    """(width, height) of each page as displayed (`geometry.visible_page`)."""
    changes: tuple[IngestChange, ...] = dataclasses.field(default=())
    """What was changed beyond the plain rewrite, in the order it was done."""
    text: str = ""
    """The text PDFium extracts from the pages (`render.document_text`), for search (R28)."""


def ingest_pdf(
    data: bytes | Path, *, max_bytes: int, keep_links: bool = False, reuse_within: str = ""
) -> Ingested:
    """Check and normalise an upload. Raises only RefusedUpload for bad input.

    ``data`` is the upload's bytes or the path of the file holding them (an upload Django kept
    on disk): a path is opened by qpdf and hashed piece by piece, never read whole.

    Refused: empty, larger than ``max_bytes``, no ``%PDF-`` header, over a resource limit
    (`pdf_limits.check_limits`: decoded size per stream and per file, page size, pages),
    damaged beyond a complete repair, needs a password to open, encrypted for a certificate or
    otherwise protected, already signed, no pages, a dynamic XFA form with only a placeholder
    page or a PDF portfolio, or unreadable by pyHanko or PDFium after normalising. A damaged
    file that qpdf repairs is accepted only if the repaired file has every page its page tree
    declares, all its streams decode and PDFium opens every page (`keiyaku.signing.damage`).

    Active content (scripts, actions, embedded files, multimedia, XFA) is removed and recorded
    in ``changes`` (`keiyaku.signing.active_content`); ``keep_links`` keeps ordinary links
    (the organisation's ``keep_pdf_links``).

    Last, the file is proved signable verifiably (``unsignable`` when not, even after
    normalising harder: `ingest_proof.require_signable`).

    Also refused (``text_not_drawable``): a page with text the viewer would not draw
    (`render.require_text_drawn`).

    Everything after the checks of size and header runs in child processes under
    `ingest_limits` (`keiyaku.signing.budget`): the rewrite and its checks in one, the proof in
    its own (under the validation budget), the page reading and text check in a third. qpdf's
    check, PDFium's page loads and pyHanko's validation can each take minutes and gigabytes on
    a small hostile file (183 MB of drawing operators in 365 KB took 429 s and 1.1 GB), and
    none of that may hold a web worker. Refused as ``over_budget`` past a budget.

    With ``reuse_within`` (an organisation's id), an upload this process accepted before for
    the same organisation, byte for byte under the same settings, gets the same result again
    without the checks (`_AcceptedUploads`; files up to 4 MiB, 32 MiB in all): a template sent
    to many firms is checked once per process. Never across organisations: a quick answer would
    tell one that another had uploaded the same file.
    """
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    if not size:
        raise _refused("empty")
    if size > max_bytes:
        raise RefusedUpload(
            _("ファイルサイズが上限（%(mb)sMB）を超えています。")
            % {"mb": f"{max_bytes / _MIB:.4g}"},
            code="too_large",
        )
    if _MAGIC not in _head(data, _MAGIC_WINDOW + len(_MAGIC)):
        raise _refused("not_pdf")

    from keiyaku.signing.ingest_proof import require_signable

    context = _child_context()
    key = (
        _accepted.key(data, size=size, keep_links=keep_links, context=context, scope=reuse_within)
        if reuse_within
        else None
    )
    if key is not None and (known := _accepted.get(key)) is not None:
        return known
    try:
        # Each step in its own budgeted child; the proof starts its own children (issue 10,
        # findings 2, 7, 8), so it runs from here, between the two.
        normalised, changes = budget.run(
            _normalise_bounded, data, keep_links, context, limits=ingest_limits()
        )
        normalised = require_signable(normalised, changes)
        sizes, text = budget.run(_page_sizes_drawn, normalised, context, limits=ingest_limits())
    except budget.BudgetExceeded as exc:
        logger.info("upload refused: ingest over its %s budget", exc.what)
        raise RefusedUpload(_MESSAGES["over_budget"], code="over_budget") from exc

    ingested = Ingested(
        original_sha256=key[0] if key is not None else _sha256(data),
        normalised=normalised,
        normalised_sha256=hashlib.sha256(normalised).hexdigest(),
        page_count=len(sizes),
        page_sizes=tuple(sizes),
        changes=tuple(changes),
        text=text,
    )
    if key is not None:
        _accepted.put(key, ingested)
    return ingested


class _AcceptedUploads:
    """The last uploads this process accepted per organisation, so that the same bytes
    uploaded again (a template sent to many firms, a contract drafted again) are not checked
    again: the checks cost seconds of CPU in budgeted children, and with the same file, the
    same settings and the same ``keep_links`` they would give the same result (normalising is
    deterministic).

    Only acceptances are kept, never refusals. Files over ``max_file_bytes`` are not kept, and
    at most ``total_bytes`` of normalised files are (least recently used first out).
    """

    def __init__(self, *, total_bytes: int, max_file_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.max_file_bytes = max_file_bytes
        self._kept: OrderedDict[tuple[str, str], Ingested] = OrderedDict()
        self._lock = threading.Lock()

    def key(
        self,
        data: bytes | Path,
        *,
        size: int,
        keep_links: bool,
        context: dict[str, Any],
        scope: str,
    ) -> tuple[str, str] | None:
        """(upload's SHA-256, SHA-256 of the scope and everything else the result depends on),
        or None for a file too large to keep."""
        if size > self.max_file_bytes:
            return None
        settings_repr = repr(sorted(context["settings"].items()))
        depends = hashlib.sha256(f"{scope}|{keep_links}|{settings_repr}".encode()).hexdigest()
        return _sha256(data), depends

    def get(self, key: tuple[str, str]) -> Ingested | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], ingested: Ingested) -> None:
        if len(ingested.normalised) > self.max_file_bytes:
            return
        with self._lock:
            self._kept[key] = ingested
            self._kept.move_to_end(key)
            while sum(len(i.normalised) for i in self._kept.values()) > self.total_bytes:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


_accepted = _AcceptedUploads(total_bytes=32 * _MIB, max_file_bytes=4 * _MIB)


def forget_accepted_uploads() -> None:
    """Check every upload afresh from now on in this process (tests: each test starts with
    none kept, so that one that changes how uploads are checked sees its change)."""
    _accepted.clear()


def ingest_limits() -> budget.Limits:
    """The budget of one ingest: ``KEIYAKU_INGEST_SECONDS`` and ``KEIYAKU_INGEST_MEMORY_MB``."""
    return budget.Limits(
        seconds=float(settings.KEIYAKU_INGEST_SECONDS),
        memory_mb=int(settings.KEIYAKU_INGEST_MEMORY_MB),
        settings_prefix="KEIYAKU_INGEST",
    )


_PLAIN = (str, int, float, bool, type(None), Path, tuple, list, dict)


def _child_context() -> dict[str, Any]:
    """What the ingest child needs of this process: the settings module, the KEIYAKU_*
    settings as they are now (a test or an operator may have changed them) and the language
    the refusal is written in."""
    return {
        "settings_module": os.environ.get("DJANGO_SETTINGS_MODULE"),
        "settings": {
            name: getattr(settings, name)
            for name in dir(settings)
            if name.startswith("KEIYAKU_") and isinstance(getattr(settings, name), _PLAIN)
        },
        "language": translation.get_language(),
    }


def _enter_django(context: dict[str, Any]) -> None:
    if context["settings_module"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", context["settings_module"])
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()
    for name, value in context["settings"].items():
        setattr(settings, name, value)
    if context["language"]:
        translation.activate(context["language"])


def _normalise_bounded(
    data: bytes | Path, keep_links: bool, context: dict[str, Any]
) -> tuple[bytes, list[IngestChange]]:
    """`_normalise` in a budgeted child: the normalised file and what was changed. Raises only
    RefusedUpload."""
    _enter_django(context)
    changes: list[IngestChange] = []
    try:
        return _normalise(data, changes, keep_links=keep_links), changes
    except RefusedUpload:
        raise
    except Exception as exc:
        # qpdf, pyHanko and PDFium raise many types for damaged input; all mean the same here.
        logger.info("upload refused as corrupt: %s: %s", type(exc).__name__, exc, exc_info=True)
        raise _refused("corrupt") from None


def _page_sizes_drawn(pdf: bytes, context: dict[str, Any]) -> tuple[list[tuple[float, float]], str]:
    """In a budgeted child, on the proved file: the page sizes, PDFium's reading of every page,
    the check that its text is drawn (`render.require_text_drawn`) and the text itself, for
    search (`render.document_text`). Raises only RefusedUpload."""
    _enter_django(context)
    try:
        sizes = render.page_sizes(pdf)
        render.require_text_drawn(pdf)
        text = render.document_text(pdf)
    except render.TextNotDrawnError as exc:
        raise _text_not_drawable(exc) from None
    except Exception as exc:
        logger.info("upload refused as corrupt: %s: %s", type(exc).__name__, exc, exc_info=True)
        raise _refused("corrupt") from None
    return sizes, text


def _head(data: bytes | Path, size: int) -> bytes:
    if isinstance(data, bytes):
        return data[:size]
    with data.open("rb") as fh:
        return fh.read(size)


def _sha256(data: bytes | Path) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    with data.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _text_not_drawable(exc: render.TextNotDrawnError) -> RefusedUpload:
    # The party would agree to a page image without this text (issue 10, finding 3).
    return RefusedUpload(
        _(
            "%(page)sページに表示できない文字があります（「%(text)s」）。"
            "フォントを埋め込んでPDFを作成し直してから登録してください。"
        )
        % {"page": exc.page_index + 1, "text": exc.text[:20]},
        code="text_not_drawable",
    )


def _normalise(
    data: bytes | Path, changes: list[IngestChange], *, keep_links: bool = False
) -> bytes:
    try:
        # The empty password opens owner-password-only files, decrypted.
        pdf = pikepdf.open(io.BytesIO(data) if isinstance(data, bytes) else data, password="")
    except pikepdf.PasswordError as exc:
        raise _refused("encrypted") from exc
    except pikepdf.PdfError as exc:
        # qpdf decrypts only the password handler; say what protects the file, if anything.
        protection = damage.encryption_filter(data)
        if protection == "/Adobe.PubSec":
            raise _refused("certificate_encrypted") from exc
        if protection not in (None, "/Standard"):
            raise _refused("protected") from exc
        raise
    with pdf:
        # First, before anything decodes a stream or renders a page (the repair judgement
        # decodes every stream of a damaged file).
        check_limits(pdf, limits=PdfLimits.from_settings(), path=_path(data))
        _require_complete_repair(pdf, declared=damage.declared_page_count(data))
        pages = len(pdf.pages)
        if pages == 0:
            raise _refused("no_pages")
        if _drop_usage_rights(pdf):
            changes.append(IngestChange.USAGE_RIGHTS_REMOVED)
        if _is_signed(pdf):
            raise _refused("signed")
        if refusal := active_content.refusal(pdf):
            raise _refused(refusal)
        removed = active_content.strip_active_content(pdf, keep_links=keep_links)
        changes.extend(IngestChange(kind.value) for kind in removed)
        out = _save(pdf)
        try:
            _check_rewritten(out, pages=pages)
        except _RewriteWarned:
            # qpdf copied a stream it could not decode as it was. The Flate streams Acrobat
            # Reader and macOS Preview end without zlib's end marker are repaired and the file
            # rewritten once more; any other stream is damage. Only here, so that a clean file
            # is decoded once, not twice.
            _repair_streams(pdf)
            out = _save(pdf)
            _check_rewritten(out, pages=pages)
    _require_pyhanko_can_append(out)
    return out


def _path(data: bytes | Path) -> Path | None:
    return None if isinstance(data, bytes) else data


def _require_complete_repair(pdf: pikepdf.Pdf, *, declared: int | None) -> None:
    """Accept a file qpdf warns about only if nothing that matters is missing (finding 10).

    Judged by what matters, not by the warnings: every page its page tree declares is there
    every object qpdf had to skip is there after the repair (`damage.require_named_objects`)
    and every stream decodes completely (`damage.repair_streams`, which also rewrites the
    Flate streams Acrobat Reader and macOS Preview end without zlib's end marker). A
    ``stream`` keyword followed by CR only, a recovered /Length or a rebuilt cross-reference
    table lose nothing and are accepted. Checked on the input, because the rewrite would hide
    what a repair dropped (an unreadable object becomes null, and a page tree without it
    looks whole); `_check_rewritten` then checks the result. ``declared``: the page count the
    file states before qpdf repaired its page tree (`damage.declared_page_count`), if readable.
    """
    if declared is not None and declared != len(pdf.pages):
        raise _refused("corrupt")
    warnings = pdf.get_warnings()
    if not warnings:
        return  # a stream that does not decode shows in the rewrite (`_check_rewritten`)
    warnings += pdf.check_pdf_syntax()
    try:
        counted = int(pdf.Root.Pages.Count)
    except (AttributeError, TypeError, ValueError) as exc:
        raise _refused("corrupt") from exc
    if counted != len(pdf.pages):
        raise _refused("corrupt")
    try:
        damage.require_named_objects(pdf, warnings)
    except damage.Damaged as exc:
        raise _refused("corrupt") from exc
    _repair_streams(pdf)


def _repair_streams(pdf: pikepdf.Pdf) -> None:
    """`damage.repair_streams`, refusing as corrupt a stream that does not decode."""
    try:
        damage.repair_streams(pdf)
    except damage.Damaged as exc:
        raise _refused("corrupt") from exc


def _drop_usage_rights(pdf: pikepdf.Pdf) -> bool:
    """Remove a Reader-extensions (/UR3) usage-rights signature.

    Forms made with Adobe's Reader Extensions carry one; it only unlocks features in Adobe
    Reader, certifies nothing, and any change (ours included) voids it. Its owner cannot remove
    it with common tools, so we drop it instead of refusing the file. True when one was dropped.
    """
    perms = pdf.Root.get("/Perms")
    if isinstance(perms, pikepdf.Dictionary) and "/UR3" in perms:
        del perms["/UR3"]
        if not perms.keys():
            del pdf.Root["/Perms"]
        return True
    return False


def _is_signed(pdf: pikepdf.Pdf) -> bool:
    perms = pdf.Root.get("/Perms")
    if isinstance(perms, pikepdf.Dictionary) and "/DocMDP" in perms:
        return True
    acroform = pdf.Root.get("/AcroForm")
    return isinstance(acroform, pikepdf.Dictionary) and _has_signed_field(acroform.get("/Fields"))


def _check_rewritten(pdf: bytes, *, pages: int) -> None:
    """The rewrite is ``qpdf --check`` clean, renders the same and holds no signature.

    A warning here (`_RewriteWarned`, a corrupt refusal) is damage that survived the rewrite:
    qpdf copies a stream it cannot decode as it is; `_normalise` repairs what can be repaired
    and checks once more. Renders the same: ``pages`` pages (as the input had), each opened by PDFium. The
    rewrite holds only objects reachable from the trailer, so a signature found here is still
    part of the document, whatever points at it. About 60 ms for 20 MB.
    """
    with pikepdf.open(io.BytesIO(pdf)) as rewritten:
        if rewritten.get_warnings() or rewritten.check_pdf_syntax():
            raise _RewriteWarned(_MESSAGES["corrupt"], code="corrupt")
        if len(rewritten.pages) != pages:
            raise _refused("corrupt")
        for obj in rewritten.objects:
            if isinstance(obj, pikepdf.Dictionary) and _is_signature_dictionary(obj):
                raise _refused("signed")
    try:
        damage.require_pdfium_opens_every_page(pdf, pages=pages)
    except damage.Damaged as exc:
        raise _refused("corrupt") from exc


def _is_signature_dictionary(obj: pikepdf.Dictionary) -> bool:
    # /Type is optional in a signature dictionary; /ByteRange with /Contents is what signs.
    kind = obj.get("/Type")
    return kind in (pikepdf.Name.Sig, pikepdf.Name.DocTimeStamp) or (
        "/ByteRange" in obj and "/Contents" in obj
    )


def _has_signed_field(fields: object, depth: int = 0) -> bool:
    if not isinstance(fields, pikepdf.Array) or depth > 32:
        return False
    for field in fields:
        if not isinstance(field, pikepdf.Dictionary):
            continue
        if field.get("/FT") == pikepdf.Name.Sig and field.get("/V") is not None:
            return True
        if _has_signed_field(field.get("/Kids"), depth + 1):
            return True
    return False


def _save(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(
        out,
        # A classic xref table: the simplest structure for every incremental writer and
        # validator after us. Also drops any hybrid xref.
        object_stream_mode=pikepdf.ObjectStreamMode.disable,
        linearize=False,
        # Same input, same output: a re-run job produces the same hash.
        deterministic_id=True,
        encryption=False,
    )
    return out.getvalue()


def _require_pyhanko_can_append(pdf: bytes) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    pages = writer.root["/Pages"]
    if int(pages["/Count"]) < 1:
        raise _refused("no_pages")


# Certificate ID stamp ----------------------------------------------------------------------

_STAMP_FONT_SIZE = 7.5
_STAMP_MARGIN = 10 * 72 / 25.4  # 10 mm in points


def stamp_certificate_id(pdf: bytes, certificate_id: str, *, label: str = "締結証明書ID") -> bytes:
    """Print 「{label}: {certificate_id}」 small at the bottom left of page 1, as displayed.

    Places it on the visible page (`geometry.visible_page`): /Rotate, inherited boxes and a crop
    box that does not start at (0, 0) or reaches beyond the media box. The text is drawn with the
    embedded Japanese font. The result is a full rewrite, so call this before any signature.
    """
    text = require_glyphs(f"{label}: {certificate_id}")
    with pikepdf.open(io.BytesIO(pdf)) as target:
        page = target.pages[0]
        visible = visible_page(page)
        x0, y0, x1, y1 = visible.box
        rotate = visible.rotate
        width, height = visible.size

        with pikepdf.open(io.BytesIO(_overlay(text, width, height))) as overlay:
            form = target.copy_foreign(overlay.pages[0].as_form_xobject())
        _retag_subset_fonts(form, seed=text)

        # Maps the overlay's upright (u, v) onto this page's user space.
        matrix = {
            0: (1, 0, 0, 1, x0, y0),
            90: (0, 1, -1, 0, x1, y0),
            180: (-1, 0, 0, -1, x1, y1),
            270: (0, -1, 1, 0, x0, y1),
        }[rotate]
        name = page.add_resource(form, pikepdf.Name.XObject, prefix="KeiyakuCertId")
        cm = " ".join(f"{v:.4f}" for v in matrix)
        # Wrap the existing content in q/Q so its graphics state cannot move our stamp.
        page.contents_add(b"q\n", prepend=True)
        page.contents_add(f"\nQ\nq {cm} cm {name} Do Q\n".encode("ascii"))
        return _save(target)


def _retag_subset_fonts(form: pikepdf.Object, *, seed: str) -> None:
    """Give the stamp's font subset its own tag.

    reportlab always tags its first subset AAAAAA+, and a page made by reportlab already has
    one; two different subsets under one name make some viewers draw the wrong glyphs.
    """
    digest = hashlib.sha256(seed.encode()).digest()
    tag = "".join(chr(ord("A") + b % 26) for b in digest[:6])
    fonts = form.get("/Resources", pikepdf.Dictionary()).get("/Font", pikepdf.Dictionary())
    for _name, font in fonts.items():
        base = str(font.get("/BaseFont", ""))
        if len(base) > 8 and base[7] == "+":
            name = pikepdf.Name("/" + tag + base[7:])
            font.BaseFont = name
            descriptor = font.get("/FontDescriptor")
            if isinstance(descriptor, pikepdf.Dictionary):
                descriptor.FontName = name


def _overlay(text: str, width: float, height: float) -> bytes:
    from reportlab.pdfgen import canvas

    font = register_reportlab_font()
    buf = io.BytesIO()
    # initialFontName: otherwise reportlab also lists an unembedded Helvetica.
    c = canvas.Canvas(
        buf, pagesize=(width, height), invariant=True, initialFontName=font, initialFontSize=8
    )
    c.setFont(font, _STAMP_FONT_SIZE)
    c.drawString(_STAMP_MARGIN, _STAMP_MARGIN, text)
    c.showPage()
    c.save()
    return buf.getvalue()
