"""Electronic sureties (電子保証) and the files kept with a contract apart from it (R32).

A 保証事業会社 issues a 前払金保証 or 契約保証 for a public works contract electronically: the
municipality gets a 保証契約番号 and a 認証キー (with which anyone checks the guarantee on the
issuer's site) and a PDF 「認証キーのお知らせ」. keiyaku records them on the contract:

- `attachment_add`: a PDF kept with the contract, **not** part of it: never signed, never sent
  for signing, shown apart from the contract's documents, stored as uploaded (sealed with the
  contract's data key, `storage.blobs`). Only its size and PDF header are checked: it is
  never drawn or opened by keiyaku, and it is only ever served as a download
  (``Content-Disposition: attachment``, ``application/pdf``).
- `surety_add`: a surety, with its notice PDF as one such attachment. The 認証キー is sealed
  with the master key (`crypto.SURETY_KEY_PURPOSE`; re-sealed by a master key rotation) and
  read back only by `surety_auth_key` for the contract's page.

Corrections and removals are in `services.corrections`.

Both are allowed in any state of the contract (a surety often arrives after conclusion; neither
sureties nor attachments are part of the signed documents), by staff who may change the contract
(`require_contract_change`), under the contract's row lock, and are audited in the same
transaction (old and new values; the 認証キー only as whether one is set, never in clear).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.filenames import clean_filename
from keiyaku.contracts.models import (
    Attachment,
    Contract,
    Surety,
    SuretyCorrection,
    SuretyKind,
)
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.search_index import normalise
from keiyaku.contracts.services.drafting import MAX_AMOUNT, Upload
from keiyaku.storage import crypto
from keiyaku.storage.blobs import blob_discard, blob_put
from keiyaku.storage.models import Blob
from keiyaku.text_input import require_single_line

__all__ = [
    "SuretyValues",
    "attachment_add",
    "attachment_check",
    "surety_add",
    "surety_auth_key",
]

_MAGIC = b"%PDF-"
_MAGIC_WINDOW = 1024
"""The PDF header may follow up to this many bytes of other data (as readers accept)."""
_MIB = 1024 * 1024


def attachment_check(upload: Upload) -> None:
    """Refuse what cannot be a contract's attachment: an empty file, one over
    ``KEIYAKU_MAX_FILE_BYTES``, or one without the ``%PDF-`` header in its first 1,024 bytes.

    Nothing else is checked, on purpose: an attachment is never rendered, parsed or signed by
    keiyaku, and is served only as a download (R32).

    Raises:
        ContractError: ``empty``, ``too_large``, ``not_pdf``.
    """
    size = upload.size
    if not size:
        raise ContractError(
            _("%(name)s: ファイルが空です。") % {"name": upload.filename}, code="empty"
        )
    if size > settings.KEIYAKU_MAX_FILE_BYTES:
        raise ContractError(
            _("%(name)s: ファイルサイズが上限（%(mb)sMB）を超えています。")
            % {"name": upload.filename, "mb": f"{settings.KEIYAKU_MAX_FILE_BYTES / _MIB:.4g}"},
            code="too_large",
        )
    data = upload.data
    if isinstance(data, bytes):
        head = data[: _MAGIC_WINDOW + len(_MAGIC)]
    else:
        with data.open("rb") as fh:
            head = fh.read(_MAGIC_WINDOW + len(_MAGIC))
    if _MAGIC not in head:
        raise ContractError(
            _("%(name)s: PDFファイルではありません。添付できるのはPDFだけです。")
            % {"name": upload.filename},
            code="not_pdf",
        )


def _filename(upload: Upload) -> str:
    return clean_filename(upload.filename) or _("添付ファイル.pdf")


def _store(contract: Contract, upload: Upload) -> tuple[str, Blob]:
    """Check and store the upload's bytes (outside any transaction: a large file takes time);
    return its name and blob."""
    attachment_check(upload)
    return _filename(upload), blob_put(keyring=contract.keyring, data=upload.data)


def _require_room(locked: Contract, *, freed: int = 0) -> None:
    """Room on the (locked) contract for one more current attachment; ``freed``: how many the
    same change removes. Removed attachments do not count: they are history."""
    if locked.attachments.current().count() - freed >= settings.KEIYAKU_MAX_FILES:
        raise ContractError(
            _("1つの案件に添付できるファイルは%(count)s件までです。")
            % {"count": settings.KEIYAKU_MAX_FILES},
            code="too_many_attachments",
        )


def _lock(contract: Contract) -> Contract:
    """The contract, locked, with room for one more attachment."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    _require_room(locked)
    return locked


def _attachment_create(
    contract: Contract, actor: Staff, name: str, blob: Blob, now: datetime
) -> Attachment:
    return Attachment.objects.create(
        contract=contract, filename=name, blob=blob, added_by=actor, added_at=now
    )


def attachment_add(
    *, contract: Contract, actor: Staff, upload: Upload, meta: RequestMeta = SYSTEM
) -> Attachment:
    """Keep a PDF with ``contract``, apart from its documents (R32), in any state.

    The file is stored as uploaded, sealed with the contract's data key, and is never signed
    or sent for signing. At most ``KEIYAKU_MAX_FILES`` current attachments per contract. Audited as
    ``contract.attachment_add`` (file name, size, SHA-256).

    Raises:
        NotAllowed: the actor may not change the contract (`require_contract_change`).
        ContractError: see `attachment_check`; ``too_many_attachments``.
    """
    require_contract_change(actor, contract)
    name, blob = _store(contract, upload)
    try:
        with transaction.atomic():
            locked = _lock(contract)
            now = timezone.now()
            attachment = _attachment_create(locked, actor, name, blob, now)
            Contract.objects.filter(pk=locked.pk).update(last_activity_at=now)
            audit_record(
                event="contract.attachment_add",
                organisation=locked.organisation,
                actor=actor,
                subject=locked.audit_subject,
                detail={"filename": name, "size": blob.size, "sha256": blob.sha256},
                meta=meta,
            )
    except BaseException:
        blob_discard(blob)
        raise
    return attachment


@dataclass(frozen=True)
class SuretyValues:
    """A surety as staff enter it (R32)."""

    kind: str
    """A `SuretyKind` value."""
    issuer: str
    """The 保証事業会社 (e.g. 東日本建設業保証株式会社)."""
    number: str
    """The 保証契約番号, as typed (hyphens and full-width digits allowed)."""
    auth_key: str = ""
    """The 認証キー; sealed before it is stored."""
    amount: int | None = None
    """The guaranteed amount, yen."""
    period_start: date | None = None
    period_end: date | None = None


def _surety_check(values: SuretyValues) -> str:
    """The normalised 保証契約番号; refuses what cannot be a surety."""
    if values.kind not in SuretyKind.values:
        raise ContractError(_("保証の種類を選んでください。"), code="surety_kind", field="kind")
    require_single_line(
        # Labels as the form shows them (translated by require_single_line).
        issuer=("保証事業会社", values.issuer),
        number=("保証契約番号", values.number),
        auth_key=("認証キー", values.auth_key),
    )
    if not values.issuer.strip():
        raise ContractError(
            _("保証事業会社を入力してください。"), code="surety_issuer", field="issuer"
        )
    number = normalise(values.number)
    if not number:
        raise ContractError(
            _("保証契約番号を入力してください（英数字を含めてください）。"),
            code="surety_number",
            field="number",
        )
    if len(values.number) > 100 or len(values.issuer) > 200 or len(values.auth_key) > 200:
        raise ContractError(_("入力が長すぎます。"), code="surety_too_long")
    if values.period_start and values.period_end and values.period_end < values.period_start:
        raise ContractError(
            _("保証期間の終了日が開始日より前です。"), code="surety_period", field="period_end"
        )
    if values.amount is not None and not 0 <= values.amount <= MAX_AMOUNT:
        raise ContractError(_("保証金額が大きすぎます。"), code="amount_too_large", field="amount")
    return number


def surety_add(
    *,
    contract: Contract,
    actor: Staff,
    values: SuretyValues,
    notice: Upload | None = None,
    meta: RequestMeta = SYSTEM,
) -> Surety:
    """Record an electronic surety on ``contract`` (R32), in any state, with the issuer's
    「認証キーのお知らせ」 PDF (``notice``) kept as an attachment (`attachment_add`'s checks).

    The 認証キー is sealed with the master key (purpose ``surety-key``) and never written to the
    audit log; the entry ``contract.surety_add`` names the kind, issuer, 保証契約番号 and the
    notice's file name and SHA-256. A contract may have several sureties.

    Raises:
        NotAllowed: the actor may not change the contract (`require_contract_change`).
        ContractError: ``surety_kind``, ``surety_issuer``, ``surety_number`` (nothing to search
            by), ``surety_period``, ``surety_too_long``, a control character in a field; for
            the notice those of `attachment_check` and ``too_many_attachments``.
    """
    require_contract_change(actor, contract)
    number = _surety_check(values)
    sealed = (
        crypto.seal_text(values.auth_key.strip(), purpose=crypto.SURETY_KEY_PURPOSE)
        if values.auth_key.strip()
        else ""
    )
    stored = _store(contract, notice) if notice is not None else None
    try:
        with transaction.atomic():
            locked = (
                _lock(contract)
                if stored
                else Contract.objects.select_for_update().get(pk=contract.pk)
            )
            now = timezone.now()
            attachment = (
                _attachment_create(locked, actor, stored[0], stored[1], now) if stored else None
            )
            surety = Surety.objects.create(
                contract=locked,
                kind=values.kind,
                issuer=values.issuer.strip(),
                number=values.number.strip(),
                number_normalised=number,
                auth_key_sealed=sealed,
                amount=values.amount,
                period_start=values.period_start,
                period_end=values.period_end,
                notice=attachment,
                added_by=actor,
                added_at=now,
            )
            Contract.objects.filter(pk=locked.pk).update(last_activity_at=now)
            detail: dict[str, object] = {
                "kind": values.kind,
                "issuer": surety.issuer,
                "number": surety.number,
                "auth_key": bool(sealed),
            }
            if attachment is not None:
                detail["notice"] = {
                    "filename": attachment.filename,
                    "sha256": attachment.blob.sha256,
                }
            audit_record(
                event="contract.surety_add",
                organisation=locked.organisation,
                actor=actor,
                subject=locked.audit_subject,
                detail=detail,
                meta=meta,
            )
    except BaseException:
        if stored:
            blob_discard(stored[1])
        raise
    return surety


def surety_auth_key(surety: Surety | SuretyCorrection) -> str:
    """The surety's 認証キー in clear ("" when none was given), for the contract's page, which
    only staff who may read the contract reach (`selectors.contract_for`), and the
    organisation's export (R34); of a `SuretyCorrection`, the key it held before that
    correction. Raises crypto.SealBroken when no configured master key opens it."""
    if not surety.auth_key_sealed:
        return ""
    return crypto.open_text(surety.auth_key_sealed, purpose=crypto.SURETY_KEY_PURPOSE)
