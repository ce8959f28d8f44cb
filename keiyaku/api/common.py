"""What every endpoint module needs: who acts, the contract it may see, files it was sent,
and pages of a list."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import ValidationError

from keiyaku.accounts.models import Department, Staff
from keiyaku.api.models import ApiToken
from keiyaku.api.schemas import DocumentIn, Error
from keiyaku.ascii_digits import is_ascii_digits
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.list_page import BadCursor
from keiyaku.contracts.models import Contract
from keiyaku.contracts.selectors import contract_for
from keiyaku.contracts.services.drafting import Upload

M = TypeVar("M", bound=Model)

# The largest file a JSON body may carry in base64 (decoded); larger ones go as multipart.
JSON_FILE_MAX_BYTES = 5 * 1024 * 1024

# The error answers every endpoint may give, for the OpenAPI document.
ERRORS: dict[int, type[Error]] = {code: Error for code in (400, 401, 403, 404, 409, 413, 422, 429)}


def actor(request: HttpRequest) -> Staff:
    """The staff member the call's token acts as (`ApiToken.staff`)."""
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    return token.staff


def department_in(request: HttpRequest, department_id: int) -> Department | None:
    """The department of the token's organisation with this id, or None (a lookup of an
    input; the services decide who may use it)."""
    return Department.objects.filter(
        pk=department_id,
        organisation__in=Staff.objects.filter(pk=actor(request).pk).values("organisation"),
    ).first()


def contract_of(request: HttpRequest, contract_id: uuid.UUID) -> Contract:
    """The contract, through the visibility selector (R1, R29): Http404 for anyone else's."""
    return contract_for(actor(request), contract_id)


def uploads_of(files: Sequence[UploadedFile]) -> list[Upload]:
    """Multipart files as the services take them: one Django wrote to disk as its path."""
    return [
        Upload(
            filename=f.name or "",
            data=Path(f.temporary_file_path())
            if isinstance(f, TemporaryUploadedFile)
            else f.read(),
        )
        for f in files
    ]


def upload_of(document: DocumentIn) -> Upload:
    """A JSON body's file, decoded from base64.

    Raises:
        ContractError: not base64 (``bad_base64``), or over JSON_FILE_MAX_BYTES (``too_large``:
            send it as multipart).
    """
    if len(document.content_base64) > JSON_FILE_MAX_BYTES * 4 // 3 + 4:
        raise ContractError(
            _("JSONで送れるファイルは%(mb)sMBまでです。大きいファイルはmultipartで送ってください。")
            % {"mb": JSON_FILE_MAX_BYTES // (1024 * 1024)},
            code="too_large",
            field="content_base64",
        )
    try:
        data = base64.b64decode(document.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ContractError(
            _("ファイルの内容をbase64で指定してください。"),
            code="bad_base64",
            field="content_base64",
        ) from None
    return Upload(filename=document.filename, data=data)


def page_of(rows: QuerySet[M], *, after: str | None, limit: int) -> tuple[list[M], str | None]:
    """One page of ``rows`` in the order of their ids, ``limit`` (1-100) at a time, from the
    row after the one whose id ``after`` is (the previous page's ``next_cursor``); returns the
    rows and the next page's cursor (None on the last page). Rows added meanwhile come on the
    pages ahead; none is skipped or shown twice.

    Raises:
        BadCursor: ``after`` is not a cursor of this list (``bad_cursor``, 400).
        ContractError: ``limit`` outside 1-100 (``limit``, 422).
    """
    if not 1 <= limit <= 100:
        raise ContractError(_("limit は1〜100で指定してください。"), code="limit", field="limit")
    if after is not None:
        if not is_ascii_digits(after) or len(after) > 18:
            raise BadCursor(
                _("ページの指定が正しくありません。一覧の最初から開き直してください。"),
                field="after",
            )
        rows = rows.filter(pk__gt=int(after))
    found = list(rows.order_by("pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return found, str(found[-1].pk) if more and found else None


S = TypeVar("S", bound=Schema)


def metadata_of(schema: type[S], text: str) -> S:
    """A multipart call's ``metadata`` form field (JSON) read as ``schema``.

    Raises:
        ContractError: ``bad_json`` (field ``metadata``) when the text is not JSON at all.
        pydantic.ValidationError: JSON that does not fit ``schema`` (a 422 naming the field,
            as for a JSON body).
    """
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        # pydantic reads the JSON itself: text that is not JSON is one of its errors too.
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise ContractError(
                _("metadata をJSONで指定してください。"), code="bad_json", field="metadata"
            ) from None
        raise
